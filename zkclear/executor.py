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
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Protocol, TypeVar

from zkclear.errors import ConfigurationError

T = TypeVar("T")
U = TypeVar("U")

EXECUTOR_KINDS = ("serial", "process", "dask")


Progress = Callable[[int], None]
"""Called with the number of items finished so far (for progress bars)."""


class Executor(Protocol):
    """Maps a function over items, returning results in input order; ``progress`` is told as items finish."""

    workers: int

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs everything in the calling process."""

    workers = 1

    def close(self) -> None:
        """Nothing to release."""

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]:
        results = []
        for item in items:
            results.append(fn(item))
            if progress is not None:
                progress(len(results))
        return results


class ProcessExecutor:
    """Local worker processes (one per core by default).

    The pool is created on first use and kept until :meth:`close`, so workers keep what they have
    cached (the Bulletproofs generators take seconds to derive) across calls: one executor should
    serve a whole epoch close, or several.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]:
        work = list(items)
        if len(work) <= 1 or self.workers == 1:
            return SerialExecutor().map(fn, work, progress)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        results: list = [None] * len(work)
        futures = {self._pool.submit(fn, item): index for index, item in enumerate(work)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done)
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]:
        from dask.distributed import as_completed as dask_as_completed

        futures = self._client.map(fn, list(items), pure=False)
        if progress is not None:
            for done, _ in enumerate(dask_as_completed(futures), start=1):
                progress(done)
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
