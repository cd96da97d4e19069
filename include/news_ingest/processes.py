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
"""

from __future__ import annotations

import sys
import threading
import types
from multiprocessing.context import ForkServerContext, ForkServerProcess
from typing import Any

# sys.modules is process-wide: launches from several threads must not interleave.
_launching = threading.Lock()


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
