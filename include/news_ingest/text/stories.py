"""Stories: the fingerprint of an article's folded text, and grouping articles by it (pure).

A fingerprint is a MinHash signature (``datasketch``) over the word 3-shingles of the
folded title, lede and body (``norm.*``), cut into LSH bands. Each band becomes a keyword
(``fingerprint.keys``), next to one key for the exact folded body, so the articles that may
be near-copies of a batch are found with one ``terms`` query, in the cluster, with no second
store. A candidate is confirmed when the signatures estimate a Jaccard similarity of the
shingle sets at or above a threshold; an exact key in common makes it a ``duplicate_of``.

With ``BANDS`` bands of ``ROWS`` rows, a pair of Jaccard similarity s shares a band with
probability 1 - (1 - s**ROWS)**BANDS: 0.995 at s = 0.5, 0.94 at 0.4, 0.27 at 0.2. So pairs
above the default threshold (0.5) are almost always candidates, and most unrelated pairs
never reach the confirmation step.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 3
BANDS = 40
ROWS = 3
NUM_PERM = BANDS * ROWS
# Fixed, so signatures computed by any worker, run or reindex compare with each other.
SEED = 13
EXACT_PREFIX = "x:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# The permutations are drawn once per process, not once per article. CRC-32 hashes each
# shingle: stable across processes, and a third of the cost of datasketch's default SHA-1
# wrapper; the MinHash permutations then spread its values.
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32)


@dataclass(frozen=True)
class Fingerprint:
    keys: tuple[str, ...]  # the LSH band keys and the exact key
    signature: bytes  # NUM_PERM little-endian uint32 values

    def as_fields(self) -> dict[str, Any]:
        """The ``fingerprint`` object of an article document (JSON-safe)."""
        return {"keys": list(self.keys), "minhash": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Fingerprint:
        return cls(tuple(fields["keys"]), base64.b64decode(fields["minhash"]))

    @property
    def exact_key(self) -> str:
        return self.keys[-1]  # fingerprint() puts it after the band keys


def shingles(words: Sequence[str], size: int = SHINGLE_WORDS) -> set[str]:
    """Runs of ``size`` words; a text shorter than that is its one run."""
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def fingerprint(norm: Mapping[str, str]) -> Fingerprint:
    """The fingerprint of an article from its folded fields (``norm.title/lede/body``)."""
    words = " ".join(norm.get(name) or "" for name in ("title", "lede", "body")).split()
    minhash = _TEMPLATE.copy()
    minhash.update_batch([shingle.encode() for shingle in shingles(words)])
    signature = minhash.hashvalues.astype("<u4").tobytes()
    exact = hashlib.sha256((norm.get("body") or "").encode()).hexdigest()[:32]
    return Fingerprint((*band_keys(signature), EXACT_PREFIX + exact), signature)


def band_keys(signature: bytes) -> list[str]:
    """One key per band: its number and a hash of its rows."""
    width = ROWS * 4
    return [
        f"{band:02d}:"
        + hashlib.blake2b(signature[band * width : (band + 1) * width], digest_size=8).hexdigest()
        for band in range(BANDS)
    ]


def similarity(a: bytes, b: bytes) -> float:
    """The Jaccard similarity of two shingle sets, estimated from their signatures."""
    return float(similarities(a, [b])[0])


def similarities(signature: bytes, others: Sequence[bytes]) -> Any:
    """``similarity`` of ``signature`` to each of ``others``, as one numpy array."""
    own = np.frombuffer(signature, dtype="<u4")
    matrix = np.frombuffer(b"".join(others), dtype="<u4").reshape(len(others), NUM_PERM)
    return np.count_nonzero(matrix == own, axis=1) / NUM_PERM


@dataclass(frozen=True)
class Member:
    """An article as story assignment sees it."""

    id: str
    seen_at: datetime  # published, or else fetched
    fingerprint: Fingerprint
    story_id: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True)
class Assignment:
    story_id: str
    duplicate_of: str | None
    similarity: float | None  # to the closest confirmed member; None: starts the story
    closest: str | None


def assign(
    batch: Sequence[Member],
    known: Iterable[Member],
    *,
    threshold: float,
    window: timedelta,
) -> dict[str, Assignment]:
    """The story of each article of ``batch``, given the already indexed ``known`` members.

    The batch is taken in order of time (then id), and each article becomes a candidate for
    the ones after it, so copies within one batch group together as across batches. An
    article already indexed (an update) keeps its story.
    """
    known = list(known)
    pool = _Pool(len(known) + len(batch))
    for member in known:
        pool.add(member)
    result: dict[str, Assignment] = {}
    for article in sorted(batch, key=lambda m: (m.seen_at, m.id)):
        previous = pool.get(article.id)
        if previous is not None and previous.story_id is not None:
            assignment = Assignment(previous.story_id, previous.duplicate_of, None, None)
        else:
            assignment = pool.closest(article, threshold, window)
        result[article.id] = assignment
        pool.add(
            replace(article, story_id=assignment.story_id, duplicate_of=assignment.duplicate_of)
        )
    return result


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


class _Pool:
    """The members an article may join: one row each (an article met again replaces its
    row), their signatures in one matrix, so that an article is compared with all its
    candidates at once (a batch can have thousands)."""

    def __init__(self, capacity: int) -> None:
        self.members: list[Member] = []
        self.row_of: dict[str, int] = {}
        self.by_key: dict[str, set[int]] = {}
        self.signatures = np.empty((capacity, NUM_PERM), dtype="<u4")
        self.seen = np.empty(capacity, dtype=np.int64)  # microseconds, compared exactly
        self.joinable = np.zeros(capacity, dtype=bool)  # has a story

    def get(self, member_id: str) -> Member | None:
        row = self.row_of.get(member_id)
        return None if row is None else self.members[row]

    def add(self, member: Member) -> None:
        row = self.row_of.setdefault(member.id, len(self.members))
        if row == len(self.members):
            self.members.append(member)
        else:
            self.members[row] = member
        self.signatures[row] = np.frombuffer(member.fingerprint.signature, dtype="<u4")
        self.seen[row] = _micros(member.seen_at)
        self.joinable[row] = member.story_id is not None
        for key in member.fingerprint.keys:
            self.by_key.setdefault(key, set()).add(row)

    def closest(self, article: Member, threshold: float, window: timedelta) -> Assignment:
        """The story the closest confirmed candidate gives ``article``; its own if none."""
        alone = Assignment(article.id, None, None, None)
        shared: set[int] = set().union(*(self.by_key.get(k, ()) for k in article.fingerprint.keys))
        shared.discard(self.row_of.get(article.id, -1))
        rows = np.fromiter(shared, dtype=np.intp, count=len(shared))
        near = np.abs(self.seen[rows] - _micros(article.seen_at)) <= window // _MICROSECOND
        rows = rows[self.joinable[rows] & near]
        if not len(rows):
            return alone
        candidates = set(rows.tolist())
        exact = [
            self.members[row]
            for row in self.by_key.get(article.fingerprint.exact_key, set()) & candidates
        ]
        if exact:
            original = min(exact, key=lambda c: (c.seen_at, c.id))
            root = original.duplicate_of or original.id
            return Assignment(str(original.story_id), root, 1.0, original.id)
        own = np.frombuffer(article.fingerprint.signature, dtype="<u4")
        scores = np.count_nonzero(self.signatures[rows] == own, axis=1) / NUM_PERM
        top = float(scores.max())
        if top < threshold:
            return alone
        # The closest; of equally close ones, the earliest (then the smallest id).
        best = min(
            (self.members[row] for row in rows[scores == top]), key=lambda c: (c.seen_at, c.id)
        )
        return Assignment(str(best.story_id), None, round(top, 4), best.id)
