"""The asyncio client: :class:`Volley` owns a sidecar and speaks the protocol's methods."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import os
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Literal,
    Union,
    overload,
)

from ._binary import find_binary
from ._errors import ItemError, ProtocolError, SidecarCrashed, VolleyError, error_from_wire
from ._gcpause import gc_paused
from ._items import ItemLike, chat, normalize_item
from ._sidecar import Sidecar, child_environment
from ._types import BatchStats, GatherResults, Outcome, Progress, Result, _value_from_wire

__all__ = ["Volley", "AsCompleted", "ProgressCallback", "PROTOCOL_VERSION"]

log = logging.getLogger("volley")

PROTOCOL_VERSION = 1
#: ``--max-line-bytes`` given to the sidecar unless ``extra_args`` sets it.
MAX_LINE_BYTES = 1 << 30
CLIENT_VERSION = "0.1.0"

#: Called with a :class:`Progress` for each ``progress`` notification; may be a coroutine function.
ProgressCallback = Callable[[Progress], Optional[Awaitable[None]]]

_Priority = Literal["interactive", "background"]


class Volley:
    """A running ``volley`` sidecar and the methods to send it work. Use it from one event loop.

    ``async with Volley() as v:`` starts the sidecar (finding or building the binary, see
    :func:`volley.find_binary`) and sends ``initialize``; leaving the block sends ``shutdown``
    (``drain``, or ``cancel`` when the block raised), then ``exit``, and waits for the process,
    killing it after ``shutdown_timeout`` seconds. Without ``async with``, the first call starts
    the sidecar and :meth:`aclose` stops it.

    Options:

    - ``binary``: path of the ``volley`` executable (else ``$VOLLEY_BIN``, ``PATH``, the checkout).
    - ``providers`` / ``default_provider``: provider configuration sent in ``initialize``
      (the protocol's "Providers" object: ``kind``, ``base_url``, ``limits``, ``retry``, ...).
      Kept, with every later :meth:`configure`, and re-sent when the sidecar is restarted.
    - ``config``: a JSON config file passed as ``--config``.
    - ``model``: default ``request.model`` for items that name none (and for bare prompt strings).
    - ``log_level``: the sidecar's ``--log-level``; its stderr goes to the ``volley.sidecar`` logger.
    - ``env``: environment overrides for the sidecar (a ``None`` value removes a variable).
    - ``max_restarts``: how many times a sidecar that died is restarted by the next call
      (in this object's lifetime); after that every call raises :class:`SidecarCrashed`.
    - ``extra_args``: more command-line flags. The client passes ``--max-line-bytes 1073741824``
      (1 GiB, instead of the sidecar's 16 MiB) unless these set it: a big batch is one line.
    - ``cancel_timeout``: after a cancelled call sends ``cancel``, how long it waits for the
      sidecar's ``-32800`` reply before letting the cancellation through anyway.
    - ``build``: build the binary with ``swift build`` when only a checkout is found.
    """

    def __init__(
        self,
        *,
        binary: Optional[Union[str, "os.PathLike[str]"]] = None,
        providers: Optional[Mapping[str, Any]] = None,
        default_provider: Optional[str] = None,
        config: Optional[Union[str, "os.PathLike[str]"]] = None,
        model: Optional[str] = None,
        log_level: Optional[str] = None,
        env: Optional[Mapping[str, Optional[str]]] = None,
        max_restarts: int = 3,
        extra_args: Sequence[str] = (),
        shutdown_timeout: float = 10.0,
        cancel_timeout: float = 5.0,
        client_name: str = "volley-python",
        build: bool = True,
    ) -> None:
        self._binary = os.fspath(binary) if binary is not None else None
        self._binary_found = False
        self._providers: Dict[str, Any] = dict(providers or {})
        self._default_provider = default_provider
        self._config = os.fspath(config) if config is not None else None
        self.model = model
        self._log_level = log_level
        self._env = child_environment(env)
        self.max_restarts = max_restarts
        self._extra_args = list(extra_args)
        self.shutdown_timeout = shutdown_timeout
        self.cancel_timeout = cancel_timeout
        self._client_name = client_name
        self._build = build

        self._sidecar: Optional[Sidecar] = None
        self._start_lock: Optional[asyncio.Lock] = None  # created on the loop that uses it
        self._ids = itertools.count(1)
        self._restarts = 0
        self._closed = False
        self._background: Set["asyncio.Task[Any]"] = set()
        #: The ``initialize`` result of the running sidecar (server, capabilities, limits).
        self.server_info: Dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> "Volley":
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose(mode="cancel" if exc_type is not None else "drain")

    async def start(self) -> None:
        """Start the sidecar now (otherwise the first call does). Idempotent."""
        await self._ensure()

    @property
    def pid(self) -> Optional[int]:
        """The running sidecar's process id, or ``None``."""
        sidecar = self._sidecar
        return sidecar.pid if sidecar is not None and sidecar.alive else None

    @property
    def restarts(self) -> int:
        """How many times the sidecar was restarted after dying."""
        return self._restarts

    async def aclose(self, *, mode: str = "drain") -> None:
        """Stop the sidecar: ``shutdown`` (``"drain"`` lets running work finish, ``"cancel"``
        cancels it), then ``exit``; waits up to ``shutdown_timeout`` seconds, then kills it.

        Safe to call twice. Requests still pending when the process ends fail with
        :class:`SidecarCrashed`.
        """
        if self._closed:
            return
        self._closed = True
        sidecar = self._sidecar
        if sidecar is None or sidecar.process is None:
            return
        try:
            if sidecar.alive:
                sidecar.expecting_exit = True
                try:
                    await asyncio.wait_for(
                        self._request("shutdown", {"mode": mode}, sidecar=sidecar), self.shutdown_timeout
                    )
                except (asyncio.TimeoutError, VolleyError) as error:
                    log.debug("volley shutdown: %s", error)
                try:
                    sidecar.write({"jsonrpc": "2.0", "method": "exit"})
                except VolleyError:
                    pass
                sidecar.close_stdin()
            await sidecar.wait_closed(self.shutdown_timeout)
        except BaseException:
            sidecar.kill()  # never leave the process behind, even when cancelled mid-close
            raise

    async def close(self, *, mode: str = "drain") -> None:
        """Same as :meth:`aclose`."""
        await self.aclose(mode=mode)

    def __del__(self) -> None:
        sidecar = getattr(self, "_sidecar", None)
        if sidecar is not None and not getattr(self, "_closed", True):
            try:
                sidecar.kill()
            except Exception:
                pass

    async def _ensure(self) -> Sidecar:
        sidecar = self._sidecar
        if sidecar is not None and sidecar.alive:
            return sidecar
        if self._closed:
            raise VolleyError("this Volley is closed")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            sidecar = self._sidecar
            if sidecar is not None and sidecar.alive:
                return sidecar
            if self._closed:
                raise VolleyError("this Volley is closed")
            if sidecar is not None:
                await sidecar.wait_closed(1.0)
                crash = sidecar.crash
                if self._restarts >= self.max_restarts:
                    raise SidecarCrashed(
                        f"the volley sidecar died and max_restarts={self.max_restarts} restarts are used up"
                        + (f" (last: {crash.message})" if crash is not None else ""),
                        returncode=crash.returncode if crash else None,
                        stderr_tail=crash.stderr_tail if crash else None,
                    )
                self._restarts += 1
                log.warning("restarting the volley sidecar (restart %d of %d)", self._restarts, self.max_restarts)
            self._sidecar = await self._spawn()
            return self._sidecar

    async def _spawn(self) -> Sidecar:
        if not self._binary_found:
            self._binary = await find_binary(self._binary, build=self._build)
            self._binary_found = True
        assert self._binary is not None
        argv = [self._binary, "serve", "--log-format", "json"]
        if self._log_level is not None:
            argv += ["--log-level", self._log_level]
        if self._config is not None:
            argv += ["--config", self._config]
        if not any(arg.startswith("--max-line-bytes") for arg in self._extra_args):
            # The sidecar's 16 MiB default guards against a runaway host; this host builds its
            # lines itself, and a 100,000-item gather is a ~50 MB line.
            argv += ["--max-line-bytes", str(MAX_LINE_BYTES)]
        argv += self._extra_args
        sidecar = Sidecar(argv, env=self._env, logger=logging.getLogger("volley.sidecar"))
        try:
            await sidecar.start()
        except OSError as error:
            raise SidecarCrashed(f"could not start {argv[0]}: {error}") from error
        params: Dict[str, Any] = {
            "protocol_version": PROTOCOL_VERSION,
            "client": {"name": self._client_name, "version": CLIENT_VERSION},
        }
        if self._providers:
            params["providers"] = self._providers
        if self._default_provider is not None:
            params["default_provider"] = self._default_provider
        try:
            reply = await self._request("initialize", params, sidecar=sidecar)
            result = _result_or_raise(reply)
        except BaseException:
            sidecar.kill()
            await sidecar.wait_closed(1.0)
            raise
        self.server_info = result if isinstance(result, dict) else {}
        limits = self.server_info.get("limits") or {}
        if isinstance(limits.get("max_line_bytes"), int):
            sidecar.max_line_bytes = limits["max_line_bytes"]
        return sidecar

    # -- requests --------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        sidecar: Optional[Sidecar] = None,
        on_item: Optional[Callable[[Dict[str, Any]], None]] = None,
        on_progress: Optional[Callable[[Dict[str, Any]], None]] = None,
        cancellable: bool = False,
    ) -> Dict[str, Any]:
        """Send one request and return its response message (``result`` or ``error`` inside).

        When the awaiting task is cancelled and the request is ``cancellable``, sends ``cancel``
        and waits (up to ``cancel_timeout``) for the ``-32800`` reply before re-raising.
        """
        if sidecar is None:
            sidecar = await self._ensure()
        request_id = next(self._ids)
        future = sidecar.register(request_id, on_item=on_item, on_progress=on_progress)
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            sidecar.write(message)
        except BaseException:
            sidecar.abandon(request_id)
            sidecar.forget(request_id)
            raise
        try:
            await sidecar.drain()
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if cancellable and not future.done():
                await self._cancel_and_consume(sidecar, request_id, future)
            else:
                sidecar.abandon(request_id)
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: nobody else will look
            raise

    async def _cancel_and_consume(
        self, sidecar: Sidecar, request_id: int, future: "asyncio.Future[Dict[str, Any]]"
    ) -> Optional[Dict[str, Any]]:
        """Send ``cancel`` for ``request_id`` and wait for its reply (the ``-32800`` error)."""
        sidecar.abandon(request_id)
        try:
            sidecar.write({"jsonrpc": "2.0", "method": "cancel", "params": {"id": request_id}})
            await sidecar.drain()
        except VolleyError:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.cancel_timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError, VolleyError):
            if future.done() and not future.cancelled():
                future.exception()
            return None

    def _progress_handler(self, callback: Optional[ProgressCallback]) -> Optional[Callable[[Dict[str, Any]], None]]:
        if callback is None:
            return None

        def handle(params: Dict[str, Any]) -> None:
            progress = Progress(
                done=int(params.get("done") or 0),
                failed=int(params.get("failed") or 0),
                total=int(params.get("total") or 0),
            )
            try:
                returned = callback(progress)
                if returned is not None and inspect.isawaitable(returned):
                    task = asyncio.ensure_future(returned)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
            except Exception:
                log.exception("volley: the progress callback raised")

        return handle

    def _batch_params(
        self,
        items: Iterable[ItemLike],
        concurrency: Optional[int],
        timeout: Optional[float],
        fail_fast: bool,
        priority: Optional[str],
        progress: bool,
    ) -> Dict[str, Any]:
        params: Dict[str, Any] = {"requests": [normalize_item(item, self.model) for item in items]}
        if concurrency is not None:
            params["concurrency"] = concurrency
        if timeout is not None:
            params["timeout"] = timeout
        if fail_fast:
            params["fail_fast"] = True
        if priority is not None:
            params["priority"] = priority
        if progress:
            params["progress"] = True
        return params

    # -- gather ----------------------------------------------------------------------------

    @overload
    async def gather(
        self,
        items: Iterable[ItemLike],
        *,
        return_exceptions: Literal[False] = ...,
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        fail_fast: Optional[bool] = ...,
        priority: Optional[_Priority] = ...,
        progress: Optional[ProgressCallback] = ...,
    ) -> GatherResults[Result]: ...

    @overload
    async def gather(
        self,
        items: Iterable[ItemLike],
        *,
        return_exceptions: Literal[True],
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        fail_fast: Optional[bool] = ...,
        priority: Optional[_Priority] = ...,
        progress: Optional[ProgressCallback] = ...,
    ) -> GatherResults[Union[Result, ItemError]]: ...

    @overload
    async def gather(
        self,
        items: Iterable[ItemLike],
        *,
        return_exceptions: bool,
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        fail_fast: Optional[bool] = ...,
        priority: Optional[_Priority] = ...,
        progress: Optional[ProgressCallback] = ...,
    ) -> GatherResults[Union[Result, ItemError]]: ...

    async def gather(
        self,
        items: Iterable[ItemLike],
        *,
        return_exceptions: bool = False,
        concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        fail_fast: Optional[bool] = None,
        priority: Optional[_Priority] = None,
        progress: Optional[ProgressCallback] = None,
    ) -> GatherResults[Any]:
        """Run a batch; return every item's value in input order, like :func:`asyncio.gather`.

        Each value is a :class:`Result`. With ``return_exceptions=True`` a failed item's place
        holds its typed exception (:class:`RateLimited`, :class:`Timeout`, ...) instead.

        With ``return_exceptions=False`` (the default, as in asyncio) the batch runs with the
        protocol's ``fail_fast`` unless ``fail_fast=False`` is passed: the first item to fail
        (in time, as with asyncio) cancels the rest and its exception is raised. Unlike
        asyncio, the other items are stopped rather than left running, so nothing is spent on
        results no one will read. With ``fail_fast=False`` the whole batch runs and the first
        failure in *input order* is raised. Either way the exception's ``results`` attribute
        holds every item's value or exception.

        ``concurrency``: items of this batch in flight at once (provider limits apply on top).
        ``timeout``: seconds for the whole batch (unfinished items end
        :class:`DeadlineExceeded`). ``priority``: ``"interactive"`` (default) or
        ``"background"``. ``progress``: a callback (plain or async) given :class:`Progress`
        about ten times a second and once at the end.

        The returned list also has ``.outcomes`` (each item's :class:`Outcome`: attempts,
        latency, key) and ``.stats`` (:class:`BatchStats`). Cancelling the awaiting task sends
        ``cancel`` to the sidecar, which stops the batch. Raises :class:`ProtocolError` when the
        request as a whole is refused (bad params, unknown provider, too many items).
        """
        use_fail_fast = (not return_exceptions) if fail_fast is None else fail_fast
        params = self._batch_params(items, concurrency, timeout, use_fail_fast, priority, progress is not None)
        if not params["requests"]:
            return GatherResults([], [], BatchStats())
        reply = await self._request(
            "gather", params, on_progress=self._progress_handler(progress), cancellable=True
        )
        wire, stats, failed_index = _batch_reply(reply)
        if len(wire) >= 1000:
            with gc_paused():
                values = [_value_from_wire(outcome) for outcome in wire]
        else:
            values = [_value_from_wire(outcome) for outcome in wire]
        # The Outcome objects are built only if the caller reads `results.outcomes`.
        results = GatherResults._from_wire(wire, values, stats)
        if not return_exceptions:
            # The fail_fast item, else the first failure in input order.
            error = next(
                (
                    value
                    for value in values
                    if isinstance(value, ItemError) and (failed_index is None or value.index == failed_index)
                ),
                None,
            )
            if error is not None:
                error.results = results
                raise error
        return results

    # -- as_completed ----------------------------------------------------------------------

    def as_completed(
        self,
        items: Iterable[ItemLike],
        *,
        concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        fail_fast: bool = False,
        priority: Optional[_Priority] = None,
        progress: Optional[ProgressCallback] = None,
    ) -> "AsCompleted":
        """Run a batch and iterate over its :class:`Outcome` objects as each item finishes.

        ``async for outcome in v.as_completed(items):`` yields every item exactly once (check
        ``outcome.ok``, or call ``outcome.result()`` to get the value or raise). Leaving the
        loop early (``break``, an exception, cancelling the task) sends ``cancel`` so the rest
        of the batch stops. With ``fail_fast`` the first failure cancels the rest; the
        cancelled items are still yielded. Options as for :meth:`gather`.
        After the loop, ``.stats`` holds the batch's :class:`BatchStats`.
        """
        params = self._batch_params(items, concurrency, timeout, fail_fast, priority, progress is not None)
        return AsCompleted(self, params, self._progress_handler(progress))

    # -- call ------------------------------------------------------------------------------

    async def call(self, item: ItemLike, /, **chat_options: Any) -> Result:
        """Run one item and return its :class:`Result`; a failure raises its typed exception.

        ``item`` is a prompt string (then keywords are :func:`chat` options: ``model``,
        ``system``, ``max_tokens``, ...; one it does not know raises :class:`TypeError`) or an
        item dict. Cancelling the awaiting task sends ``cancel``. The exception of a failed
        call carries ``attempts``, as a batch item's does.
        """
        if isinstance(item, str):
            item = chat(item, **chat_options)
        elif chat_options:
            raise TypeError("keyword options are for prompt strings; put them in the item (see volley.chat)")
        params = normalize_item(item, self.model)
        reply = await self._request("call", params, cancellable=True)
        if "result" in reply:
            return Result.from_wire(reply["result"] or {})
        error = reply.get("error") or {}
        code = error.get("code")
        data = error.get("data")
        if code == -32803 and isinstance(data, dict) and "kind" in data:
            # The sidecar puts the attempts made next to the error object's fields.
            attempts = data.get("attempts")
            raise error_from_wire(
                data, attempts=attempts if isinstance(attempts, int) else None, key=params.get("key")
            )
        if code == -32800 and isinstance(data, dict) and isinstance(data.get("error"), dict):
            raise error_from_wire(data["error"], key=params.get("key"))
        raise _protocol_error(error)

    # -- the rest --------------------------------------------------------------------------

    async def ping(self) -> float:
        """Round-trip a ``ping``; returns the round-trip time in milliseconds."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        _result_or_raise(await self._request("ping"))
        return (loop.time() - started) * 1000.0

    async def stats(self) -> Dict[str, Any]:
        """The sidecar's counters and gauges (the protocol's ``stats`` result, as a dict).

        Keys include ``completed``, ``failed``, ``cancelled``, ``retries``, ``rate_limited``,
        ``in_flight``, ``queued``, ``latency_ms`` (``p50``/``p95``/``p99``), ``usage`` per model,
        ``limiters`` and ``providers``. Counters restart when the sidecar restarts.
        """
        result = _result_or_raise(await self._request("stats"))
        return result if isinstance(result, dict) else {}

    async def configure(
        self, providers: Optional[Mapping[str, Any]] = None, *, default_provider: Optional[str] = None
    ) -> Dict[str, Any]:
        """Add or replace providers and/or set the default provider; returns the sidecar's answer
        (``{"providers": [...], "default_provider": ...}``). Kept for restarts.

        Invalid configuration raises :class:`ProtocolError` (-32602) and changes nothing.
        """
        params: Dict[str, Any] = {}
        if providers:
            params["providers"] = dict(providers)
        if default_provider is not None:
            params["default_provider"] = default_provider
        result = _result_or_raise(await self._request("configure", params))
        if providers:
            self._providers.update(providers)
        if default_provider is not None:
            self._default_provider = default_provider
        return result if isinstance(result, dict) else {}


class AsCompleted(AsyncIterator[Outcome]):
    """The async iterator returned by :meth:`Volley.as_completed`.

    Also an async context manager (``async with v.as_completed(items) as outcomes:``), which
    guarantees the ``cancel`` is sent and answered when the block exits; a plain ``async for``
    that stops early sends it when the iterator is dropped.
    """

    _END = object()

    def __init__(
        self,
        client: Volley,
        params: Dict[str, Any],
        on_progress: Optional[Callable[[Dict[str, Any]], None]],
    ) -> None:
        self._client = client
        self._params = params
        self._on_progress = on_progress
        self._queue: Optional["asyncio.Queue[Any]"] = None
        self._sidecar: Optional[Sidecar] = None
        self._request_id: Optional[int] = None
        self._future: Optional["asyncio.Future[Dict[str, Any]]"] = None
        self._finished = False
        self._yielded = 0
        #: The batch's stats, once the sidecar's response arrived.
        self.stats: Optional[BatchStats] = None

    def __aiter__(self) -> "AsCompleted":
        return self

    async def __aenter__(self) -> "AsCompleted":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose()

    async def _start(self) -> None:
        queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self._queue = queue
        if not self._params["requests"]:
            queue.put_nowait(self._END)
            self._future = asyncio.get_running_loop().create_future()
            self._future.set_result({"result": {"results": [], "stats": {}}})
            return
        sidecar = await self._client._ensure()
        request_id = next(self._client._ids)
        future = sidecar.register(
            request_id, on_item=lambda params: queue.put_nowait(params), on_progress=self._on_progress
        )
        # The callbacks must not hold `self`: a dropped iterator has to be collected to cancel.
        end = self._END
        future.add_done_callback(lambda _: queue.put_nowait(end))
        self._sidecar, self._request_id, self._future = sidecar, request_id, future
        try:
            sidecar.write({"jsonrpc": "2.0", "id": request_id, "method": "as_completed", "params": self._params})
        except BaseException:
            sidecar.abandon(request_id)
            sidecar.forget(request_id)
            self._finished = True
            raise
        await sidecar.drain()

    async def __anext__(self) -> Outcome:
        if self._finished:
            raise StopAsyncIteration
        try:
            if self._queue is None:
                await self._start()
            assert self._queue is not None
            entry = await self._queue.get()
        except asyncio.CancelledError:
            await self.aclose()
            raise
        if entry is not self._END:
            self._yielded += 1
            return Outcome.from_wire(entry)
        self._finished = True
        assert self._future is not None
        reply = self._future.result()  # raises SidecarCrashed if the process died
        if "result" in reply:
            self.stats = BatchStats.from_wire((reply["result"] or {}).get("stats"))
            raise StopAsyncIteration
        error = reply.get("error") or {}
        data = error.get("data")
        if error.get("code") in (-32803, -32800) and isinstance(data, dict):
            # fail_fast, or cancelled by someone else: every outcome was already yielded.
            self.stats = BatchStats.from_wire(data.get("stats"))
            raise StopAsyncIteration
        raise _protocol_error(error)

    async def aclose(self) -> None:
        """Stop the batch if it still runs: send ``cancel`` and consume the sidecar's reply."""
        if self._finished:
            return
        self._finished = True
        sidecar, request_id, future = self._sidecar, self._request_id, self._future
        if sidecar is None or request_id is None or future is None or future.done():
            return
        await self._client._cancel_and_consume(sidecar, request_id, future)

    def __del__(self) -> None:
        # An `async for` left with `break` drops the iterator without awaiting anything: send
        # the cancel from the loop (this may run on another thread, at garbage collection)
        # and let the reply be consumed and dropped.
        if getattr(self, "_finished", True):
            return
        sidecar, request_id, future = self._sidecar, self._request_id, self._future
        if sidecar is None or request_id is None or future is None or future.done():
            return

        def send_cancel() -> None:
            try:
                sidecar.abandon(request_id)
                if not future.done():
                    sidecar.write({"jsonrpc": "2.0", "method": "cancel", "params": {"id": request_id}})
            except Exception:
                pass

        try:
            future.get_loop().call_soon_threadsafe(send_cancel)
        except RuntimeError:  # the loop is closed: the sidecar is gone or going
            pass


def _protocol_error(error: Mapping[str, Any]) -> ProtocolError:
    code = error.get("code")
    return ProtocolError(
        str(error.get("message", "JSON-RPC error")),
        code=code if isinstance(code, int) else -32603,
        data=error.get("data"),
    )


def _result_or_raise(reply: Mapping[str, Any]) -> Any:
    if "error" in reply:
        raise _protocol_error(reply.get("error") or {})
    return reply.get("result")


def _batch_reply(reply: Mapping[str, Any]) -> Tuple[List[Mapping[str, Any]], BatchStats, Optional[int]]:
    """Wire outcomes (input order), stats and the fail_fast item's index from a gather reply.

    A ``-32803`` (fail_fast) or ``-32800`` that this client did not ask for (shutdown with
    ``cancel``, a signal to the sidecar) still carries every outcome: those become results.
    """
    if "result" in reply:
        result = reply.get("result") or {}
        failed_index = None
    else:
        error = reply.get("error") or {}
        result = error.get("data")
        if error.get("code") not in (-32803, -32800) or not isinstance(result, dict) or "results" not in result:
            raise _protocol_error(error)
        index = result.get("index")
        failed_index = index if isinstance(index, int) else None
    outcomes = sorted(result.get("results") or [], key=_wire_index)
    return outcomes, BatchStats.from_wire(result.get("stats")), failed_index


def _wire_index(outcome: Mapping[str, Any]) -> int:
    return int(outcome.get("index", -1))

