"""What the pages show, as plain data for the templates (pure functions, no I/O).

Texts stay texts: a marked passage is a list of segments, and the templates (Jinja2 with
autoescape) write every segment escaped, so an article containing ``<script>`` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from news_ingest.alerting.delivery import DELIVERING, FAILED, claimable, state_of
from news_ingest.alerting.notify import channel_key
from news_ingest.text.watchlists import Watchlist, WatchlistMatch


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


def segments(text: str, spans: Iterable[Sequence[int]]) -> list[Segment]:
    """``text`` cut into unmarked and marked pieces; overlapping spans merge."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces, position = [], 0
    for start, end in merged:
        if start > position:
            pieces.append(Segment(text[position:start], False))
        pieces.append(Segment(text[start:end], True))
        position = end
    if position < len(text) or not pieces:
        pieces.append(Segment(text[position:], False))
    return pieces


def root_of(path: str) -> str:
    """The relative way from a page back to the app's root: pages link relatively, so the
    views work under any prefix the API server or a proxy mounts them at."""
    depth = path.strip("/").count("/")
    return "../" * depth if depth else "./"


def query_string(params: Mapping[str, str | Sequence[str] | None]) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value == "":
            continue
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((key, item) for item in values if item)
    return urlencode(pairs)


def toggled(params: Mapping[str, Any], key: str, value: str) -> str:
    """The search's query string with ``value`` of a facet switched on or off (page 1)."""
    current = list(params.get(key) or [])
    chosen = [v for v in current if v != value] if value in current else [*current, value]
    return query_string({**params, key: chosen, "page": None})


def watchlist_marks(matches: Sequence[WatchlistMatch]) -> dict[str, list[tuple[int, int]]]:
    """Spans of every watchlist hit, per article field."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for match in matches:
        for hit in match.hits:
            spans.setdefault(hit.field, []).append((hit.start, hit.end))
    return spans


@dataclass(frozen=True)
class ChannelState:
    channel: str
    state: str  # delivered | failed | delivering | pending
    error: str | None


def channel_states(alert: Mapping[str, Any], watchlist: Watchlist | None) -> list[ChannelState]:
    """Delivery state of each channel of the alert's watchlist (as configured now)."""
    delivered = set(alert.get("delivered") or [])
    errors = [e for e in str(alert.get("notify_error") or "").split("; ") if e]
    keys = [channel_key(c) for c in watchlist.channels] if watchlist else sorted(delivered)
    state = state_of(alert)
    states = []
    for key in keys:
        if key in delivered:
            states.append(ChannelState(key, "delivered", None))
            continue
        error = next((e.removeprefix(f"{key}: ") for e in errors if e.startswith(f"{key}:")), None)
        if state == DELIVERING:  # claimed: in flight now, whatever the last attempt said
            shown = "delivering"
        else:
            shown = "failed" if error or state == FAILED else "pending"
        states.append(ChannelState(key, shown, error))
    if watchlist is None:
        states.append(ChannelState("(watchlist no longer configured)", "failed", None))
    return states


def may_retry(alert: Mapping[str, Any], now: datetime) -> bool:
    """An operator may retry what is not delivered and held by no live claim: claimable
    with no attempt cap, as the retry itself claims it (``alerting.delivery``)."""
    return claimable(alert, now, max_attempts=None)


def retry_outcome(counts: Mapping[str, int]) -> str:
    """What the operator's retry did, from the counts of ``alerting.delivery.deliver``."""
    if counts.get("notified"):
        return "delivered"
    if counts.get("notify_failed"):
        return "failed"
    if counts.get("notify_lost"):
        return "taken over by another process"
    return "not retried: already delivered, or another process is delivering it"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def short_time(value: str | None) -> str:
    """An ISO timestamp as the pages show it: minutes, in UTC."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M") + (" UTC" if moment.tzinfo else "")


def page_numbers(page: int, total: int, size: int, window: int = 3) -> list[int]:
    last = max(1, -(-total // size))
    return list(range(max(1, page - window), min(last, page + window) + 1))
