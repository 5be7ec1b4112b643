"""The one parallel-execution seam.

Every piece of zkclear that fans work out (proving batches, verifying chunks, building
receipts) calls ``get_executor(...).map(fn, items)``. The math never knows which executor
runs it. ``process`` (local processes, the default) uses the standard library's
``ProcessPoolExecutor``; ``dask`` sends the same calls to a Dask cluster (the scheduler
address from ``ZKCLEAR_DASK_SCHEDULER``, or a local cluster); ``serial`` runs in-process
(tests, debugging, and one-item workloads).

``fn`` must be a module-level function and items picklable, as for any process pool.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol, TypeVar

from zkclear.errors import ConfigurationError

T = TypeVar("T")
U = TypeVar("U")

EXECUTOR_KINDS = ("serial", "process", "dask")


class Executor(Protocol):
    """Maps a function over items, returning results in input order."""

    workers: int

    def map(self, fn: Callable[[T], U], items: Iterable[T]) -> list[U]: ...


class SerialExecutor:
    """Runs everything in the calling process."""

    workers = 1

    def map(self, fn: Callable[[T], U], items: Iterable[T]) -> list[U]:
        return [fn(item) for item in items]


class ProcessExecutor:
    """Local worker processes (one per core by default)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: Callable[[T], U], items: Iterable[T]) -> list[U]:
        work = list(items)
        if len(work) <= 1 or self.workers == 1:
            return [fn(item) for item in work]
        with ProcessPoolExecutor(max_workers=min(self.workers, len(work))) as pool:
            return list(pool.map(fn, work))


class DaskExecutor:
    """A Dask cluster: ``scheduler`` address, or a local cluster of ``workers`` processes."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigurationError(
                "the dask executor needs the 'dask' extra: pip install 'zkclear[dask]'") from exc
        address = scheduler or os.environ.get("ZKCLEAR_DASK_SCHEDULER")
        if address:
            self._client = Client(address)
        else:
            cluster = LocalCluster(n_workers=max(1, workers or os.cpu_count() or 1),
                                   threads_per_worker=1, processes=True, dashboard_address=None)
            self._client = Client(cluster)
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def map(self, fn: Callable[[T], U], items: Iterable[T]) -> list[U]:
        futures = self._client.map(fn, list(items), pure=False)
        return self._client.gather(futures)

    def close(self) -> None:
        cluster = self._client.cluster
        self._client.close()
        if cluster is not None:
            cluster.close()


def get_executor(kind: str | None = None, workers: int | None = None) -> Executor:
    """The executor named ``kind`` (or by ``ZKCLEAR_EXECUTOR``; default ``process``)."""
    choice = (kind or os.environ.get("ZKCLEAR_EXECUTOR") or "process").strip().lower()
    if choice == "serial":
        return SerialExecutor()
    if choice == "process":
        return ProcessExecutor(workers)
    if choice == "dask":
        return DaskExecutor(workers)
    raise ConfigurationError(f"unknown executor {choice!r}: expected one of {', '.join(EXECUTOR_KINDS)}")
