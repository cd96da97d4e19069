"""Worker processes that start cleanly whatever process starts them.

multiprocessing prepares every new worker by re-running the parent's ``__main__`` (as
``__mp_main__``), so that functions defined in a script can be unpickled. Our workers run
only library functions, and re-running the parent's main is harmful where that main is a
program of its own: in an Airflow task process it is the ``airflow`` script, whose import
initialises Airflow's metadata-database connection, which task processes do not have (by
design), so every worker died and the pool broke (BrokenProcessPool). Celery workers and
``python -m`` runners have the same problem in other shapes.

``worker_context`` is the forkserver context whose processes are launched as if the parent
had no main module: the worker then starts from the forkserver's state alone (the
preloaded modules), the same in Airflow, the CLI, pytest and benchmarks.

``die_with_parent`` makes a pool's processes end with their parent: the forkserver with the
process that started it, each worker with the forkserver. A SIGKILLed CLI run or Airflow
task can run no cleanup, so the kernel does it (Linux's parent-death signal); the
resource tracker then sees its pipe close and exits by itself.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import types
from multiprocessing.context import ForkServerContext, ForkServerProcess
from typing import Any

log = logging.getLogger(__name__)

# sys.modules is process-wide: launches from several threads must not interleave.
_launching = threading.Lock()
PR_SET_PDEATHSIG = 1
# Who each process of a pool must outlive by no more than an instant: the server's parent
# is set by the process that starts the pool, the workers' by the server they fork from.
POOL_PARENT_ENV = "NEWS_INGEST_POOL_PARENT_PID"
POOL_SERVER_ENV = "NEWS_INGEST_POOL_SERVER_PID"


def die_with_parent(expected_parent: int | None = None) -> None:
    """SIGKILL this process when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``).

    The signal comes when the *thread* that started this process ends, so pools are started
    from a thread that lives as long as the pool (the main thread everywhere here). If the
    parent died before the call, nothing would signal us: ``expected_parent`` catches that.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("event=pdeathsig_failed errno=%d", ctypes.get_errno())
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


def die_with_pool_parent() -> None:
    """In a pool's server process: die with the process that started the pool."""
    parent = os.environ.get(POOL_PARENT_ENV)
    die_with_parent(int(parent) if parent else None)
    os.environ[POOL_SERVER_ENV] = str(os.getpid())  # inherited by every worker forked


def die_with_pool_server() -> None:
    """In a pool's worker (its initializer): die with the server it was forked from."""
    server = os.environ.get(POOL_SERVER_ENV)
    die_with_parent(int(server) if server else None)


class _WithoutParentMain(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        # The launch reads sys.modules["__main__"] to describe how to prepare the child
        # (multiprocessing.spawn.get_preparation_data); an empty stand-in there means the
        # child is told to prepare no main module.
        with _launching:
            parent_main = sys.modules["__main__"]
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                return ForkServerProcess._Popen(process_obj)
            finally:
                sys.modules["__main__"] = parent_main


class _WorkerContext(ForkServerContext):
    Process = _WithoutParentMain


def worker_context(preload: list[str]) -> ForkServerContext:
    """A forkserver context that preloads ``preload`` and never re-runs the parent's main."""
    context = _WorkerContext()
    context.set_forkserver_preload(preload)
    return context
