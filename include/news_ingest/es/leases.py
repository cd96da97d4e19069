"""One run per source at a time: a lease document per source in ``<prefix>-leases``.

A run (the CLI's, or every task of one Airflow DAG run, which share the owner) takes the
source's lease before it plans, stages or writes anything, and renews it from a background
thread while it works. Another run of the same source waits a bounded time for it and then
stops with a message naming the holder. A holder that died stops renewing, so its lease
expires and the next run takes over; a CLI run's lease (one process) is taken over at once
when that process is gone from this host, since it is provably dead (a lease a run could
not free because Elasticsearch was down, say). A DAG run's lease is never judged by a pid:
its tasks are processes that come and go. Every write is conditional (``op_type=create`` for a
free lease, ``if_seq_no``/``if_primary_term`` to renew or take over an expired one), so two
runs starting at once cannot both win.

While a run holds the lease no other run of the source is alive, so batches staged in other
run folders are leftovers of runs that are provably dead (or finished).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, TransportError
from news_ingest.es.indices import IndexNames

log = logging.getLogger(__name__)


class LeaseHeld(RuntimeError):
    """Another live run holds the source's lease."""


class LeaseLost(RuntimeError):
    """This run's lease expired and another run took it: this run must stop writing."""


@dataclass(frozen=True)
class Holder:
    owner: str
    host: str
    pid: int
    expires_at: datetime
    pid_bound: bool = False  # the lease lives and dies with that one process

    def is_provably_dead(self) -> bool:
        """Its one process is gone from this host (a reused pid only delays the takeover
        until the lease expires)."""
        if not self.pid_bound or self.host != socket.gethostname() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def describe(self) -> str:
        return (
            f"run {self.owner} (pid {self.pid} on {self.host}, lease until "
            f"{self.expires_at.isoformat(timespec='seconds')})"
        )


def holder_of(doc: dict[str, Any]) -> Holder:
    return Holder(
        owner=str(doc.get("owner")),
        host=str(doc.get("host")),
        pid=int(doc.get("pid") or 0),
        expires_at=datetime.fromisoformat(str(doc["expires_at"])),
        pid_bound=bool(doc.get("pid_bound")),
    )


class RunLease:
    """The lease of one source for one owner (a run id)."""

    def __init__(
        self,
        es: Elasticsearch,
        names: IndexNames,
        source_id: str,
        owner: str,
        ttl: float,
        *,
        pid_bound: bool = False,
    ) -> None:
        self.es = es
        self.index = names.leases
        self.source_id = source_id
        self.owner = owner
        self.ttl = ttl
        self.pid_bound = pid_bound
        self._lost = threading.Event()

    def _doc(self, now: datetime, acquired_at: str | None = None) -> dict[str, Any]:
        return {
            "source": self.source_id,
            "owner": self.owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pid_bound": self.pid_bound,
            "acquired_at": acquired_at or now.isoformat(),
            "renewed_at": now.isoformat(),
            "expires_at": (now + timedelta(seconds=self.ttl)).isoformat(),
        }

    def try_take(self) -> Holder | None:
        """Take or renew the lease; returns the other holder if it is live."""
        while True:
            now = datetime.now(UTC)
            current = self.es.options(ignore_status=404).get(index=self.index, id=self.source_id)
            try:
                if not current.get("found"):
                    self.es.create(index=self.index, id=self.source_id, document=self._doc(now))
                    return None
                doc = current["_source"]
                holder = holder_of(doc)
                live = holder.expires_at > now and not holder.is_provably_dead()
                if holder.owner != self.owner and live:
                    return holder
                if holder.owner != self.owner:
                    log.warning(
                        "event=run_lease_taken_over source=%s previous=%s",
                        self.source_id,
                        holder.describe(),
                    )
                mine = holder.owner == self.owner
                self.es.index(
                    index=self.index,
                    id=self.source_id,
                    document=self._doc(now, doc.get("acquired_at") if mine else None),
                    if_seq_no=current["_seq_no"],
                    if_primary_term=current["_primary_term"],
                )
                return None
            except ConflictError:
                continue  # someone wrote in between (a rival, or a task of this run): look again

    def acquire(self, wait: float) -> None:
        """Take the lease, waiting up to ``wait`` seconds for a live holder to finish."""
        deadline = time.monotonic() + wait
        while (holder := self.try_take()) is not None:
            if time.monotonic() >= deadline:
                raise LeaseHeld(
                    f"source {self.source_id} is being run by {holder.describe()}; waited "
                    f"{wait:g} s (NEWS_INGEST_RUN_LEASE_WAIT). Try again when it has "
                    "finished; a run that died frees the source when its lease expires"
                )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        log.info("event=run_lease_acquired source=%s owner=%s", self.source_id, self.owner)

    def renew(self) -> None:
        if self.try_take() is not None:
            self._lost.set()

    def check(self) -> None:
        """Raise LeaseLost if another run took the lease: call before each write."""
        if self._lost.is_set():
            raise LeaseLost(
                f"the lease of source {self.source_id} expired while run {self.owner} worked "
                "and another run took it; this run stops, the other one goes on"
            )

    def release(self) -> None:
        """Free the lease if it is still ours. Best effort: when Elasticsearch is away (the
        run is failing because of it) the lease expires by itself."""
        try:
            current = self.es.options(ignore_status=404).get(index=self.index, id=self.source_id)
            if not current.get("found") or current["_source"].get("owner") != self.owner:
                return
            self.es.delete(
                index=self.index,
                id=self.source_id,
                if_seq_no=current["_seq_no"],
                if_primary_term=current["_primary_term"],
            )
        except ConflictError:
            return  # renewed by a task of this run meanwhile, or taken over: not ours to drop
        except TransportError as exc:
            log.warning(
                "event=run_lease_not_released source=%s error=%s (it expires by itself)",
                self.source_id,
                exc,
            )
            return
        log.info("event=run_lease_released source=%s owner=%s", self.source_id, self.owner)

    @contextmanager
    def renewing(self) -> Iterator[RunLease]:
        """Renew every third of the lease's life until the block ends."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl / 3):
                try:
                    self.renew()
                except Exception:  # Elasticsearch away: the run itself will notice
                    log.warning("event=run_lease_renew_failed source=%s", self.source_id)

        thread = threading.Thread(target=beat, name=f"lease-{self.source_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()


@contextmanager
def holding(
    es: Elasticsearch,
    names: IndexNames,
    source_id: str,
    owner: str,
    *,
    ttl: float,
    wait: float,
    release: bool = True,
    pid_bound: bool = False,
) -> Iterator[RunLease]:
    """Hold the source's lease for a block (and free it after, unless ``release`` is
    False: a DAG run's tasks keep it until its last task). ``pid_bound``: the whole run is
    this process (the CLI), so its death frees the lease at once."""
    lease = RunLease(es, names, source_id, owner, ttl, pid_bound=pid_bound)
    lease.acquire(wait)
    with lease.renewing():
        try:
            yield lease
        finally:
            if release:
                lease.release()
