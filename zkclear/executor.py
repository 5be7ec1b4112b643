"""The one parallel-execution seam.

Every piece of zkclear that fans work out (proving batches, verifying chunks, building
receipts) calls ``get_executor(...).map(fn, items)``. The math never knows which executor
runs it. ``process`` (local processes, the default) uses the standard library's
``ProcessPoolExecutor``; ``dask`` sends the same calls to a Dask cluster (the scheduler
address from ``ZKCLEAR_DASK_SCHEDULER``, or a local cluster); ``serial`` runs in-process
(tests, debugging, and one-item workloads).

``fn`` must be a module-level function and items picklable, as for any process pool.

``map`` returns every result at once; ``stream`` yields ``(index, result)`` as items finish, pulling items
lazily from an iterator and keeping at most ``window`` of them in flight, so a caller that writes each
result away as it arrives holds a bounded amount of work whatever the number of items. Local worker
processes end with their coordinator (:mod:`zkclear.lifeline`), and a lost worker costs only the items it
was running: the pool is rebuilt and they are resubmitted (Dask reschedules them by itself).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol, TypeVar

from zkclear.errors import ConfigurationError
from zkclear.lifeline import bind_to_parent

T = TypeVar("T")
U = TypeVar("U")

EXECUTOR_KINDS = ("serial", "process", "dask")


Progress = Callable[[int], None]
"""Called with the number of items finished so far (for progress bars)."""


#: seconds :meth:`ProcessExecutor.close` gives its workers to end before it kills them
WORKER_EXIT_SECONDS = 5.0


def _start_worker(parent_pid: int) -> None:
    """The first thing a local worker process runs: it ends with its coordinator (:func:`bind_to_parent`), and
    ignores Ctrl-C, which the terminal sends to the coordinator and its workers alike. The coordinator stops
    (``aborted``, exit 1) and ends its workers itself (:meth:`ProcessExecutor.close`); a worker interrupted on its
    own printed a Python traceback ("Process ForkProcess-N: ... KeyboardInterrupt") when Ctrl-C came twice. A worker
    is forked with Ctrl-C held back (:func:`_ctrl_c_held`): none reaches it before it ignores them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    bind_to_parent(parent_pid)


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ignore Ctrl-C (SIGINT) for the block, in which programs are started that inherit the ignoring (the main
    thread's previous handler is restored after it; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) back for the block, in which the pool may fork its workers: delivered in the middle of
    a fork it interrupted the hooks ``os.fork`` runs ("Exception ignored in: <function _releaseLock>" and a traceback,
    in the coordinator or the new worker). A Ctrl-C that came meanwhile is delivered when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


class Executor(Protocol):
    """Maps a function over items, returning results in input order; ``progress`` is told as items finish."""

    workers: int

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]: ...

    def stream(self, fn: Callable[[T], U], items: Iterable[T], *,
               window: int | None = None) -> Iterator[tuple[int, U]]: ...

    def close(self) -> None: ...


#: seconds a Dask cluster may have no worker (at the start, or while tasks wait) before the run ends in one line
DASK_NO_WORKER_SECONDS = 60.0

#: seconds between two looks at a Dask cluster whose tasks are waiting
DASK_POLL_SECONDS = 2.0

#: seconds a Dask scheduler is given to accept a connection, then to send its greeting
SCHEDULER_CONNECT_SECONDS = 30.0
SCHEDULER_GREETING_SECONDS = 10.0

#: the address schemes a Dask scheduler is reached by (Dask's plain TCP, and TLS with its own certificates)
SCHEDULER_SCHEMES = ("tcp", "tls")

#: Consecutive pool failures (a worker lost with no item finishing in between) tolerated before giving up.
POOL_REBUILDS = 3


def default_window(workers: int) -> int:
    """Items in flight when the caller does not say: enough to keep every worker busy while results are
    written away, few enough that the work held is a small multiple of the worker count."""
    return 2 * max(1, workers) + 2


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

    def stream(self, fn: Callable[[T], U], items: Iterable[T], *,
               window: int | None = None) -> Iterator[tuple[int, U]]:
        """Yield ``(index, fn(item))`` in order, one item at a time."""
        for index, item in enumerate(items):
            yield index, fn(item)


class ProcessExecutor:
    """Local worker processes (one per core by default).

    The pool is created on first use and kept until :meth:`close`, so workers keep what they have
    cached (the Bulletproofs generators take seconds to derive) across calls: one executor should
    serve a whole epoch close, or several.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._in_flight: dict[Future, object] = {}  # the last stream's items not yet handed to its caller

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]:
        """``[fn(item) for item in items]``, every item in flight at once; a lost worker as in :meth:`stream`."""
        work = list(items)
        if len(work) <= 1 or self.workers == 1:
            return SerialExecutor().map(fn, work, progress)
        results: list = [None] * len(work)
        for done, (index, result) in enumerate(self.stream(fn, work, window=len(work)), start=1):
            results[index] = result
            if progress is not None:
                progress(done)
        return results

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_start_worker,
                                             initargs=(os.getpid(),))
        return self._pool

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _submit(self, fn: Callable[[T], U], item: T) -> Future:
        """Submit ``fn(item)``; a pool found broken (a worker lost while it was idle, between two calls or two
        tasks) is rebuilt first. The items it still had in flight fail with BrokenProcessPool, which
        :meth:`stream` resubmits."""
        with _ctrl_c_held():
            try:
                return self._ensure_pool().submit(fn, item)
            except BrokenProcessPool:
                self._discard_pool()
                return self._ensure_pool().submit(fn, item)

    def stream(self, fn: Callable[[T], U], items: Iterable[T], *,
               window: int | None = None) -> Iterator[tuple[int, U]]:
        """Yield ``(index, result)`` as items finish; at most ``window`` in flight. A worker that dies (killed,
        out of memory) breaks the pool: it is rebuilt and the unfinished items resubmitted, up to
        ``POOL_REBUILDS`` times in a row without progress (then ConfigurationError)."""
        if self.workers == 1:
            yield from SerialExecutor().stream(fn, items)
            return
        limit = window or default_window(self.workers)
        source = enumerate(items)
        pending: dict[Future, tuple[int, T]] = {}
        self._in_flight = pending
        exhausted = False
        failures = 0
        while True:
            while not exhausted and len(pending) < limit:
                try:
                    index, item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                pending[self._submit(fn, item)] = (index, item)
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            lost: list[tuple[int, T]] = []
            for future in done:
                index, item = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    lost.append((index, item))
                    continue
                failures = 0
                yield index, result
            if lost:
                failures += 1
                if failures > POOL_REBUILDS:
                    # the machine's doing (the kernel's out-of-memory killer, an operator's kill), not a bug: one
                    # line and exit 1 with what to change, not an internal error asking for a report
                    raise ConfigurationError(f"worker processes died {failures} times in a row with no item "
                                             f"finishing (out of memory? {self.workers} workers: try fewer)")
                unfinished = lost + list(pending.values())
                pending.clear()
                self._discard_pool()
                for index, item in sorted(unfinished, key=lambda entry: entry[0]):
                    pending[self._submit(fn, item)] = (index, item)

    def close(self) -> None:
        """Release the workers. Items still in flight (an item raised, or the caller stopped reading: its own
        error, Ctrl-C) are not wanted: the workers end now instead of finishing them (a shutdown waited for every
        one, a window of proving tasks, before the error was reported)."""
        if self._pool is None:
            return
        workers = list((getattr(self._pool, "_processes", None) or {}).values())
        unfinished = any(not future.done() for future in self._in_flight)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if unfinished:
            for process in workers:
                process.terminate()
        # Never wait on a worker for ever: an idle one ends on the pool's sentinel at once, and one that cannot (a
        # worker stuck at its start, as a fork in a threaded process can leave it) is killed after a grace period,
        # so that closing the pool, an abort by Ctrl-C included, always returns (red team session 14: a coordinator
        # waited on such a worker after a double Ctrl-C, for ever).
        manager = getattr(self._pool, "_executor_manager_thread", None)
        deadline = time.monotonic() + WORKER_EXIT_SECONDS
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        # The pool's own thread reaps the workers too (the one that reaps a worker records its exit): once it has
        # ended, every worker is known to be gone.
        if manager is not None:
            manager.join(WORKER_EXIT_SECONDS)
        self._pool = None
        self._in_flight = {}

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _local_security() -> bool:
    """``security`` for a local Dask cluster: True (temporary TLS credentials) when ``cryptography`` is installed, as
    the dask extra installs it; ConfigurationError otherwise, rather than a cluster any local user can reach."""
    try:
        import cryptography  # noqa: F401 - Dask's temporary credentials need it
    except ImportError:
        raise ConfigurationError("a local Dask cluster needs the 'cryptography' package for its TLS credentials: "
                                 "pip install 'zkclear[dask]'") from None
    return True


def check_scheduler_address(address: str, source: str) -> str:
    """``address`` (a Dask scheduler's, from ``source``: an option or a variable) when it is ``[tcp|tls]://HOST:PORT``
    (no scheme is Dask's ``tcp``), with Dask's TLS settings for ``tls``; else ConfigurationError naming ``source``.
    (An empty one ran the prove on local processes, a port out of range was tried for 30 s, and another scheme, or
    ``tls`` without certificates, was an internal error.)"""
    given = address.strip()
    scheme, _, rest = given.rpartition("://")
    scheme = scheme or "tcp"
    host, _, port = rest.rpartition(":")
    if not given:
        problem = "is empty"
    elif scheme not in SCHEDULER_SCHEMES:
        problem = f"has the scheme {scheme!r}; a Dask scheduler is reached by tcp:// or tls://"
    elif not host.strip("[]") or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        problem = "is not HOST:PORT with a port from 1 to 65535"
    elif scheme == "tls" and _tls_context_missing():
        problem = ("needs Dask's TLS settings (distributed.comm.tls: ca-file, and the client's cert and key) for "
                   "tls://")
    else:
        return given
    raise ConfigurationError(f"{source}: the Dask scheduler address {address!r} {problem}")


def _require_dask_scheduler(address: str) -> None:
    """ConfigurationError unless a ``tcp://`` address answers as a Dask scheduler does: it accepts the connection
    within ``SCHEDULER_CONNECT_SECONDS`` and speaks first, a message whose 8-byte little-endian length is plausible.
    Dask itself waits for ever on a peer that accepts and says nothing (an HTTP server, the scheduler's own status
    port 8787), and a peer answering Dask's greeting with text (an HTTP proxy) was read as a length of exabytes: a
    MemoryError, "input too large" (red team s15). A ``tls://`` address is left to Dask's own handshake."""
    scheme, _, rest = address.rpartition("://")
    if (scheme or "tcp") != "tcp":
        return
    host, _, port = rest.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=SCHEDULER_CONNECT_SECONDS) as peer:
            peer.settimeout(SCHEDULER_GREETING_SECONDS)
            head = b""
            while len(head) < 8:
                piece = peer.recv(8 - len(head))
                if not piece:
                    break
                head += piece
    except TimeoutError:
        head = None
    except OSError as exc:
        raise ConfigurationError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}") from None
    if head is None or len(head) < 8 or not 0 < int.from_bytes(head, "little") < 1 << 24:
        raise ConfigurationError(f"{address} does not answer as a Dask scheduler over tcp:// (the port `dask "
                                 f"scheduler` listens on, 8786 by default, not its status pages' 8787; a scheduler "
                                 f"started with TLS is reached by tls://)")


def _tls_context_missing() -> bool:
    try:
        from distributed.security import Security
    except ImportError:
        raise ConfigurationError("the dask executor needs the 'dask' extra: pip install 'zkclear[dask]'") from None

    try:
        return Security().get_connection_args("client").get("ssl_context") is None
    except (OSError, ValueError) as exc:  # a certificate file that cannot be read
        raise ConfigurationError(f"Dask's TLS settings cannot be used: {exc}") from None


class DaskExecutor:
    """A Dask cluster: ``scheduler`` address (``tcp://HOST:PORT`` of a ``dask scheduler``), or a local cluster
    of ``workers`` processes. Tasks carry their inputs and return bytes; only this (the coordinating) process
    writes files. Each Dask worker process keeps the Bulletproofs generators it derived (module-level cache)
    for every later task, so run workers with one thread per process (``dask worker ... --nthreads 1``)."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, *,
                 no_worker_seconds: float = DASK_NO_WORKER_SECONDS) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigurationError(
                "the dask executor needs the 'dask' extra: pip install 'zkclear[dask]'") from exc
        self._no_worker_seconds = no_worker_seconds
        if scheduler is not None:
            address: str | None = check_scheduler_address(scheduler, "--scheduler")
        else:
            named = os.environ.get("ZKCLEAR_DASK_SCHEDULER")
            address = check_scheduler_address(named, "ZKCLEAR_DASK_SCHEDULER") if named else None
        self.address = address
        if address:
            # Dask logs a lost scheduler with a traceback on stderr; the run reports it in one line (stream)
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
            _require_dask_scheduler(address)
            try:
                self._client = Client(address, timeout="30s")
            except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address (no port, scheme)
                raise ConfigurationError(f"cannot reach the Dask scheduler at {address}: "
                                         f"{exc or type(exc).__name__}") from None  # a TLS handshake's is empty
            if not self._client.scheduler_info().get("workers"):
                try:
                    self._client.wait_for_workers(1, timeout=no_worker_seconds)
                except TimeoutError:
                    self._client.close()
                    raise ConfigurationError(f"the Dask scheduler at {address} has no workers (start some with "
                                             f"`dask worker {address} --nthreads 1`)") from None
        else:
            # the worker processes start with Ctrl-C ignored (an ignored signal stays ignored in a new program, and
            # Python and asyncio then install no handler): Ctrl-C stops the coordinator alone, which closes the
            # cluster (each worker printed a traceback, "Process Dask Worker process (from Nanny): …
            # KeyboardInterrupt"). One pressed while the cluster starts is lost: press it again.
            # TLS with temporary credentials made for this cluster (``security=True``; the ``cryptography``
            # package, in the dask extra): its tasks carry the operator secret, and a plain ``tcp://`` loopback port
            # let any other user of the machine connect as a client and run code in the workers (red team s14)
            with _ctrl_c_ignored():
                cluster = LocalCluster(n_workers=max(1, workers or os.cpu_count() or 1), threads_per_worker=1,
                                       processes=True, dashboard_address="127.0.0.1:0", security=_local_security())
                self._client = Client(cluster)
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def _worker_count(self) -> int | None:
        """The cluster's workers now, or None when the scheduler does not answer within ``DASK_POLL_SECONDS`` (its
        connection lost, or the scheduler frozen or cut off: Dask asks it without a time limit)."""
        if self._client.status != "running":
            return None
        try:
            identity = self._client.sync(self._client.scheduler.identity, n_workers=0,
                                         callback_timeout=DASK_POLL_SECONDS)
        except (OSError, TimeoutError):
            return None
        return int(identity.get("n_workers", 0))

    def _check_cluster(self, idle_since: float | None, waiting: int) -> float | None:
        """While ``waiting`` tasks wait: when the cluster was first seen without a worker or not answering (None if
        it has workers now); ConfigurationError once that lasts ``no_worker_seconds``. Dask waits for ever for a
        worker to run a task on, and for an answer of a scheduler frozen or cut off (red team s15: the prove hung)."""
        count = self._worker_count()
        if count:
            return None
        now = time.monotonic()
        since = idle_since if idle_since is not None else now
        if now - since <= self._no_worker_seconds:
            return since
        where = f" at {self.address}" if self.address else ""
        tasks = f"{waiting} task{'s' if waiting != 1 else ''} waiting"
        if count is None:
            raise ConfigurationError(f"the Dask scheduler{where} has not answered for {self._no_worker_seconds:.0f} s "
                                     f"with {tasks} (run the same command again once it answers: what is finished "
                                     f"is kept)")
        raise ConfigurationError(f"the Dask scheduler{where} has had no workers for {self._no_worker_seconds:.0f} s "
                                 f"with {tasks} (start workers, in the same Python environment as here: one that "
                                 f"cannot import a task's code leaves the cluster, see its log; then run the same "
                                 f"command again: what is finished is kept)")

    def _lost(self, unfinished: int) -> ConfigurationError:
        where = f" at {self.address}" if self.address else ""
        return ConfigurationError(f"lost the connection to the Dask scheduler{where} with {unfinished} task"
                                  f"{'s' if unfinished != 1 else ''} unfinished (run the same command again: what "
                                  f"is finished is kept)")

    def map(self, fn: Callable[[T], U], items: Iterable[T], progress: Progress | None = None) -> list[U]:
        """``[fn(item) for item in items]``, every item in flight at once; a cluster without workers or a lost
        scheduler as in :meth:`stream`."""
        work = list(items)
        results: list = [None] * len(work)
        for done, (index, result) in enumerate(self.stream(fn, work, window=max(1, len(work))), start=1):
            results[index] = result
            if progress is not None:
                progress(done)
        return results

    def stream(self, fn: Callable[[T], U], items: Iterable[T], *,
               window: int | None = None) -> Iterator[tuple[int, U]]:
        """Yield ``(index, result)`` as tasks finish; at most ``window`` in flight. A worker lost mid-task is
        handled by the scheduler (the task is rerun elsewhere). A cluster without any worker for
        ``no_worker_seconds`` while tasks wait, or a lost scheduler, ends the stream with ConfigurationError."""
        from dask.distributed import KilledWorker
        from dask.distributed import wait as dask_wait

        limit = window or default_window(self.workers)
        source = enumerate(items)
        running: dict[object, int] = {}  # future -> index

        def submit_next() -> bool:
            try:
                index, item = next(source)
            except StopIteration:
                return False
            running[self._client.submit(fn, item, pure=False)] = index
            return True

        for _ in range(limit):
            if not submit_next():
                break
        idle_since: float | None = None  # when the cluster was first seen without a worker, tasks waiting
        while running:
            try:
                done, _ = dask_wait(list(running), timeout=DASK_POLL_SECONDS, return_when="FIRST_COMPLETED")
            except CancelledError:  # the scheduler's connection lost: Dask cancels every future
                raise self._lost(len(running)) from None
            except TimeoutError:
                done = set()
            if not done:
                idle_since = self._check_cluster(idle_since, len(running))
                continue
            for future in done:
                index = running.pop(future)
                try:
                    result = future.result()
                except CancelledError:  # the scheduler's connection lost: Dask cancels every future
                    raise self._lost(len(running) + 1) from None
                except KilledWorker:
                    # the machine's doing, as for local workers (ProcessExecutor.stream): one line and exit 1, not an
                    # internal error asking for a report (red team s15)
                    raise ConfigurationError(
                        "every Dask worker that ran one task died (Dask gave up on it; out of memory? see the "
                        "workers' logs, then run the same command again: what is finished is kept)") from None
                future.release()
                submit_next()
                yield index, result

    def close(self) -> None:
        cluster = self._client.cluster
        self._client.close()
        if cluster is not None:
            cluster.close()


def get_executor(kind: str | None = None, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor named ``kind`` (or by ``ZKCLEAR_EXECUTOR``; default ``process``); ``scheduler`` is a Dask
    scheduler address (dask only)."""
    named = kind or os.environ.get("ZKCLEAR_EXECUTOR")
    choice = (named or "process").strip().lower()
    if choice not in EXECUTOR_KINDS:  # a typo in the variable is named as the variable, not as an option
        source = f"unknown executor {kind!r}" if kind else f"ZKCLEAR_EXECUTOR={named!r}: unknown executor"
        raise ConfigurationError(f"{source}: expected one of {', '.join(EXECUTOR_KINDS)}")
    if scheduler and choice != "dask":
        raise ConfigurationError(f"a scheduler address is for the dask executor, not {choice!r}")
    if choice == "serial":
        return SerialExecutor()
    if choice == "process":
        return ProcessExecutor(workers)
    if choice == "dask":
        return DaskExecutor(workers, scheduler)
    raise ConfigurationError(f"unknown executor {choice!r}: expected one of {', '.join(EXECUTOR_KINDS)}")
