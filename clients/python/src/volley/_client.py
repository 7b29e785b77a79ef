"""The asyncio client: :class:`Volley` opens a session with a volley server and speaks the
protocol's methods.

The session runs over a :class:`volley._connection.Transport`: the pipes of a sidecar spawned
for this client (stdio mode, the default) or a Unix socket to a daemon shared by every host of
the machine (shared mode: ``shared=True`` or ``socket=PATH``). What differs between the two is
how a session opens (:meth:`Volley._open_transport`, and the ``environment`` a shared session is
sent) and what happens after it ends (a bounded restart, or a reconnection); the methods that
send work are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
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
    TypeVar,
    Literal,
    Union,
    cast,
    overload,
)

from ._binary import find_binary
from ._connection import Connection, Transport
from ._daemon import attach_or_start, default_socket_path, socket_path_argument
from ._embeddings import Embeddings
from ._errors import (
    ItemError,
    ProtocolError,
    ProtocolVersionMismatch,
    ProviderError,
    SidecarCrashed,
    VolleyError,
    error_from_wire,
)
from ._gcpause import gc_paused
from ._items import ItemLike, can_stream, chat, embed as embed_item, normalize_item, stream_setting
from ._sidecar import ProcessTransport, child_environment
from ._stream import Delta, Reset, StreamAssembler, StreamEvent, event_from_wire
from ._types import BatchStats, GatherResults, Outcome, Progress, Result, _Batch
from ._version import PROTOCOL_VERSION, __version__ as CLIENT_VERSION

__all__ = ["Volley", "AsCompleted", "Stream", "ProgressCallback", "PROTOCOL_VERSION"]

log = logging.getLogger("volley")

#: ``--max-line-bytes`` given to the sidecar unless ``extra_args`` sets it.
MAX_LINE_BYTES = 1 << 30
#: Batches of at least this many items run as ``as_completed`` inside :meth:`Volley.gather`
#: (see there): from here on, one line per outcome costs no more than one line of them all.
STREAMED_GATHER_ITEMS = 1000
#: ``--idle-exit`` given to a daemon this client starts unless ``extra_args`` sets it.
DAEMON_IDLE_EXIT = 300
#: Sent in shared mode's ``environment`` when set, with every ``api_key_env`` the providers name.
SESSION_ENVIRONMENT = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")

#: Texts per item in :meth:`Volley.embed` unless ``batch_size`` says otherwise (OpenAI takes at
#: most 2,048 inputs and 300,000 tokens in one embeddings call).
EMBED_BATCH_SIZE = 256

#: Called with a :class:`Progress` for each ``progress`` notification; may be a coroutine function.
ProgressCallback = Callable[[Progress], Optional[Awaitable[None]]]

_Priority = Literal["interactive", "background"]

#: What an :class:`AsCompleted` yields: outcomes only, or (``deltas=True``) also stream events.
_E = TypeVar("_E")


class Volley:
    """A session with a ``volley`` server and the methods to send it work. Use it from one event loop.

    By default (stdio mode) it spawns its own sidecar process: ``async with Volley() as v:``
    starts it (finding or building the binary, see :func:`volley.find_binary`) and sends
    ``initialize``; leaving the block sends ``shutdown`` (``drain``, or ``cancel`` when the block
    raised), then ``exit``, and waits for the process, killing it after ``shutdown_timeout``
    seconds. Without ``async with``, the first call starts the sidecar and :meth:`aclose` stops it.

    In shared mode (``shared=True``, or ``socket=PATH``) it attaches to the daemon serving that
    Unix socket, starting one (detached, so it outlives this process) when none runs. One daemon
    serves every host of the machine, so their calls share one connection pool and one set of
    rate limiters. :meth:`aclose` ends this connection only; the daemon keeps running (it exits
    by itself after 300 s without connections).

    Options:

    - ``binary``: path of the ``volley`` executable (else ``$VOLLEY_BIN``, ``PATH``, the checkout).
    - ``providers`` / ``default_provider``: provider configuration sent in ``initialize``
      (the protocol's "Providers" object: ``kind``, ``base_url``, ``limits``, ``retry``, ...).
      Kept, with every later :meth:`configure`, and re-sent when the sidecar is restarted (or
      the connection to the daemon re-opened).
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
    - ``shared``: attach to (or start) the machine's shared daemon at the default socket path
      (``$VOLLEY_SOCKET``, else ``$XDG_RUNTIME_DIR/volley/volley.sock``, else
      ``/tmp/volley-<uid>/volley.sock``) instead of spawning a sidecar.
    - ``socket``: the daemon's socket path (implies ``shared``).

    In shared mode ``config``, ``log_level`` and ``extra_args`` are daemon flags: they apply only
    when this client is the one that starts the daemon. ``env`` sets the environment of a daemon
    it starts, and the ``environment`` of this connection's session (the API key and base URL
    variables and every ``api_key_env`` the providers name). A lost connection fails the pending
    calls with :class:`SidecarCrashed`, and the next call reconnects (``max_restarts`` does not
    apply: the daemon is not this client's to give up on).
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
        shared: Optional[bool] = None,
        socket: Optional[Union[str, "os.PathLike[str]"]] = None,
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
        if socket is not None:
            if shared is False:
                raise ValueError("socket= selects shared mode; it cannot be combined with shared=False")
            self._socket: Optional[str] = socket_path_argument(socket)
        elif shared:
            self._socket = socket_path_argument(default_socket_path(self._environ()), what="default socket")
        else:
            self._socket = None

        self._connection: Optional[Connection] = None
        #: The ``environment`` the open shared session got with ``initialize``.
        self._sent_environment: Optional[Dict[str, str]] = None
        self._start_lock: Optional[asyncio.Lock] = None  # created on the loop that uses it
        self._ids = itertools.count(1)
        self._restarts = 0
        self._closed = False
        self._background: Set["asyncio.Task[Any]"] = set()
        #: The ``initialize`` result of the running server (server, capabilities, limits; in
        #: shared mode also ``connection``, this connection's id on the daemon).
        self.server_info: Dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> "Volley":
        await self.start()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose(mode="cancel" if exc_type is not None else "drain")

    async def start(self) -> None:
        """Start the sidecar, or attach to the daemon, now (otherwise the first call does). Idempotent."""
        await self._ensure()

    @property
    def shared(self) -> bool:
        """True in shared mode (a daemon over a Unix socket), False for a sidecar of our own."""
        return self._socket is not None

    @property
    def socket_path(self) -> Optional[str]:
        """The daemon's socket path in shared mode, else ``None``."""
        return self._socket

    @property
    def pid(self) -> Optional[int]:
        """The process id of the running server (the sidecar, or the shared daemon), or ``None``."""
        connection = self._connection
        return connection.pid if connection is not None and connection.alive else None

    @property
    def restarts(self) -> int:
        """How many times the sidecar was restarted after dying (shared mode: reconnected)."""
        return self._restarts

    async def aclose(self, *, mode: str = "drain") -> None:
        """End the session: ``shutdown`` (``"drain"`` lets running work finish, ``"cancel"``
        cancels it), then ``exit``. In stdio mode it then waits up to ``shutdown_timeout``
        seconds for the sidecar to exit, then kills it. In shared mode it closes the connection;
        the daemon keeps serving other hosts (it is never stopped by a client).

        Safe to call twice. Requests still pending when the session ends fail with
        :class:`SidecarCrashed`.
        """
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        if connection is None:
            return
        try:
            if connection.alive:
                connection.expecting_exit = True
                try:
                    await asyncio.wait_for(
                        self._request("shutdown", {"mode": mode}, connection=connection), self.shutdown_timeout
                    )
                except (asyncio.TimeoutError, VolleyError) as error:
                    log.debug("volley shutdown: %s", error)
                try:
                    connection.write({"jsonrpc": "2.0", "method": "exit"})
                except VolleyError:
                    pass
                connection.end_input()
            await connection.wait_closed(self.shutdown_timeout)
        except BaseException:
            connection.abort()  # never leave a sidecar behind (or a connection open), even when cancelled mid-close
            raise

    async def close(self, *, mode: str = "drain") -> None:
        """Same as :meth:`aclose`."""
        await self.aclose(mode=mode)

    def __del__(self) -> None:
        connection = getattr(self, "_connection", None)
        if connection is not None and not getattr(self, "_closed", True):
            connection.abort()

    async def _ensure(self) -> Connection:
        connection = self._connection
        if connection is not None and connection.alive:
            return connection
        if self._closed:
            raise VolleyError("this Volley is closed")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            connection = self._connection
            if connection is not None and connection.alive:
                return connection
            if self._closed:
                raise VolleyError("this Volley is closed")
            if connection is not None:
                await connection.wait_closed(1.0)
                crash = connection.crash
                if self._socket is None and self._restarts >= self.max_restarts:
                    raise SidecarCrashed(
                        f"the volley sidecar died and max_restarts={self.max_restarts} restarts are used up"
                        + (f" (last: {crash.message})" if crash is not None else ""),
                        returncode=crash.returncode if crash else None,
                        stderr_tail=crash.stderr_tail if crash else None,
                    )
                self._restarts += 1
                if self._socket is None:
                    log.warning("restarting the volley sidecar (restart %d of %d)", self._restarts, self.max_restarts)
                else:
                    log.warning("reconnecting to the volley daemon at %s", self._socket)
            self._connection = await self._open()
            return self._connection

    async def _open(self) -> Connection:
        """Open a session: a transport for this mode, then ``initialize``."""
        transport = await self._open_transport()
        connection = Connection(transport, logger=log)
        params = self._initialize_params()
        try:
            reply = await self._request("initialize", params, connection=connection)
            result = self._checked_initialize(reply)
        except BaseException:
            connection.abort()
            await connection.wait_closed(1.0)
            raise
        self.server_info = result if isinstance(result, dict) else {}
        limits = self.server_info.get("limits") or {}
        if isinstance(limits.get("max_line_bytes"), int):
            connection.max_line_bytes = limits["max_line_bytes"]
        transport.initialized(self.server_info)
        self._sent_environment = params.get("environment")
        return connection

    def _checked_initialize(self, reply: Dict[str, Any]) -> Any:
        """``initialize``'s result, once the server has shown it speaks :data:`PROTOCOL_VERSION`:
        a refusal of that version, or an answer naming another, raises
        :class:`ProtocolVersionMismatch` saying which server it was and what to do."""
        error = reply.get("error")
        data = error.get("data") if isinstance(error, dict) else None
        if isinstance(data, dict) and isinstance(data.get("supported"), list) and "requested" in data:
            raise self._version_mismatch(data["supported"], None)
        result = _result_or_raise(reply)
        info = result if isinstance(result, dict) else {}
        spoken = info.get("protocol_version")
        if spoken != PROTOCOL_VERSION:
            server = info.get("server")
            version = server.get("version") if isinstance(server, dict) else None
            raise self._version_mismatch([] if spoken is None else [spoken], version if isinstance(version, str) else None)
        return result

    def _version_mismatch(self, spoken: List[Any], server_version: Optional[str]) -> ProtocolVersionMismatch:
        if self._socket is None:
            where = f"volley at {self._binary}"
            advice = ("use a volley binary of this client's release: the platform wheel carries its own; "
                      "binary=, VOLLEY_BIN or PATH may name another")
        else:
            where = f"the volley daemon at {self._socket}"
            advice = ("stop that daemon (volley.stop_daemon(), or kill it) so that this client starts one "
                      "of its own release, or use another socket=")
        theirs = " or ".join(str(v) for v in spoken) if spoken else "none it names"
        release = f" (volley {server_version})" if server_version else ""
        return ProtocolVersionMismatch(
            f"{where}{release} speaks protocol version {theirs}; this client (volley-python {CLIENT_VERSION}) "
            f"speaks protocol version {PROTOCOL_VERSION}: {advice}",
            client_protocol=PROTOCOL_VERSION,
            server_protocols=spoken,
            server_version=server_version,
        )

    def _initialize_params(self, more_providers: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """``initialize``'s params: this client, the kept configuration and, in shared mode, the
        ``environment`` the session resolves providers and ``api_key_env`` names in."""
        params: Dict[str, Any] = {
            "protocol_version": PROTOCOL_VERSION,
            "client": {"name": self._client_name, "version": CLIENT_VERSION},
        }
        if self._providers:
            params["providers"] = self._providers
        if self._default_provider is not None:
            params["default_provider"] = self._default_provider
        if self._socket is not None:
            params["environment"] = self._session_environment(more_providers)
        return params

    async def _open_transport(self) -> Transport:
        if self._socket is None:
            argv = [await self._find_binary(), "serve", "--log-format", "json"] + self._server_flags()
            transport = ProcessTransport(argv, env=self._env, logger=logging.getLogger("volley.sidecar"))
            try:
                await transport.start()
            except OSError as error:
                raise SidecarCrashed(f"could not start {argv[0]}: {error}") from error
            return transport

        socket = self._socket

        async def daemon_argv() -> List[str]:
            # Only when no daemon answers: attaching needs no binary (and never builds one).
            argv = [await self._find_binary(), "serve", "--socket", socket]
            if not _sets_flag(self._extra_args, "--idle-exit"):
                argv += ["--idle-exit", str(DAEMON_IDLE_EXIT)]
            return argv + self._server_flags()

        def spawned(pid: int) -> None:
            log.info("started a volley daemon for %s (pid %d; exits with code 3 if another one won)", socket, pid)

        return await attach_or_start(socket, daemon_argv=daemon_argv, env=self._env, on_spawn=spawned)

    async def _find_binary(self) -> str:
        if not self._binary_found:
            self._binary = await find_binary(self._binary, build=self._build)
            self._binary_found = True
        assert self._binary is not None
        return self._binary

    def _server_flags(self) -> List[str]:
        """The flags of a server this client starts (a sidecar, or a daemon), after ``serve``."""
        flags: List[str] = []
        if self._log_level is not None:
            flags += ["--log-level", self._log_level]
        if self._config is not None:
            flags += ["--config", self._config]
        if not _sets_flag(self._extra_args, "--max-line-bytes"):
            # The server's 16 MiB default guards against a runaway host; this host builds its
            # lines itself, and a 100,000-item gather is a ~50 MB line.
            flags += ["--max-line-bytes", str(MAX_LINE_BYTES)]
        return flags + self._extra_args

    def _environ(self) -> Mapping[str, str]:
        """This process's environment with the ``env=`` overrides applied."""
        return self._env if self._env is not None else os.environ

    def _session_environment(self, more_providers: Optional[Mapping[str, Any]] = None) -> Dict[str, str]:
        """Shared mode's ``environment``: what a sidecar spawned by this host would have seen of
        the variables the session reads (only those that are set)."""
        names = set(SESSION_ENVIRONMENT) | _api_key_envs(self._providers) | _config_api_key_envs(self._config)
        names |= _api_key_envs(more_providers or {})
        environ = self._environ()
        return {name: environ[name] for name in sorted(names) if name in environ}

    # -- requests --------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        connection: Optional[Connection] = None,
        on_item: Optional[Callable[[Dict[str, Any]], None]] = None,
        on_progress: Optional[Callable[[Dict[str, Any]], None]] = None,
        cancellable: bool = False,
    ) -> Dict[str, Any]:
        """Send one request and return its response message (``result`` or ``error`` inside).

        When the awaiting task is cancelled and the request is ``cancellable``, sends ``cancel``
        and waits (up to ``cancel_timeout``) for the ``-32800`` reply before re-raising.
        """
        if connection is None:
            connection = await self._ensure()
        request_id = next(self._ids)
        future = connection.register(request_id, on_item=on_item, on_progress=on_progress)
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            connection.write(message)
        except BaseException:
            connection.abandon(request_id)
            connection.forget(request_id)
            raise
        try:
            await connection.drain()
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if cancellable and not future.done():
                await self._cancel_and_consume(connection, request_id, future)
            else:
                connection.abandon(request_id)
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: nobody else will look
            raise

    async def _cancel_and_consume(
        self, connection: Connection, request_id: int, future: "asyncio.Future[Dict[str, Any]]"
    ) -> Optional[Dict[str, Any]]:
        """Send ``cancel`` for ``request_id`` and wait for its reply (the ``-32800`` error)."""
        connection.abandon(request_id)
        try:
            connection.write({"jsonrpc": "2.0", "method": "cancel", "params": {"id": request_id}})
            await connection.drain()
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
        max_cost_usd: Optional[float] = None,
        *,
        copy: bool = True,
    ) -> Dict[str, Any]:
        model = self.model
        params: Dict[str, Any] = {"requests": [normalize_item(item, model, copy=copy) for item in items]}
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
        if max_cost_usd is not None:
            params["max_cost_usd"] = max_cost_usd
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
        max_cost_usd: Optional[float] = ...,
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
        max_cost_usd: Optional[float] = ...,
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
        max_cost_usd: Optional[float] = ...,
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
        max_cost_usd: Optional[float] = None,
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
        about ten times a second and once at the end. ``max_cost_usd``: the batch's budget in
        dollars; an item whose worst case it cannot afford (or whose model has no price) is not
        sent and ends :class:`BudgetExceeded` (see the protocol's Costs section). A provider's
        own ``budget`` (in its configuration) holds every batch on its key the same way.

        The returned list also has ``.outcomes`` (each item's :class:`Outcome`: attempts,
        latency, key) and ``.stats`` (:class:`BatchStats`). Cancelling the awaiting task sends
        ``cancel`` to the sidecar, which stops the batch. Raises :class:`ProtocolError` when the
        request as a whole is refused (bad params, unknown provider, too many items).
        """
        use_fail_fast = (not return_exceptions) if fail_fast is None else fail_fast
        # The caller's item dicts are sent as they are, not copied (nothing here changes them):
        # at 100,000 items the copies cost 18 MB and a tenth of a second.
        params = self._batch_params(
            items, concurrency, timeout, use_fail_fast, priority, progress is not None, max_cost_usd, copy=False
        )
        requests = params["requests"]
        if not requests:
            return GatherResults([], [], BatchStats())
        batch = _Batch([item.get("key") for item in requests])
        # A big batch runs as `as_completed`: one small line per outcome, each turned into its
        # result as it comes, instead of one line of every outcome (24 MB at 100,000 items)
        # parsed into a dict per outcome at the end. The server answers both the same way
        # (fail_fast, cancel, stats; as_completed's `results` are the item notifications).
        streamed = len(requests) >= STREAMED_GATHER_ITEMS
        reply = await self._request(
            "as_completed" if streamed else "gather",
            params,
            on_item=batch.add if streamed else None,
            on_progress=self._progress_handler(progress),
            cancellable=True,
        )
        del params, requests
        stats, failed_index = _batch_reply(reply, batch)
        # The Outcome objects are built only if the caller reads `results.outcomes`.
        results = GatherResults._from_batch(batch, stats)
        values = batch.values
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

    @overload
    def as_completed(
        self,
        items: Iterable[ItemLike],
        *,
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        fail_fast: bool = ...,
        priority: Optional[_Priority] = ...,
        progress: Optional[ProgressCallback] = ...,
        max_cost_usd: Optional[float] = ...,
        deltas: Literal[False] = ...,
    ) -> "AsCompleted[Outcome]": ...

    @overload
    def as_completed(
        self,
        items: Iterable[ItemLike],
        *,
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        fail_fast: bool = ...,
        priority: Optional[_Priority] = ...,
        progress: Optional[ProgressCallback] = ...,
        max_cost_usd: Optional[float] = ...,
        deltas: bool,
    ) -> "AsCompleted[Union[Delta, Reset, Outcome]]": ...

    def as_completed(
        self,
        items: Iterable[ItemLike],
        *,
        concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        fail_fast: bool = False,
        priority: Optional[_Priority] = None,
        progress: Optional[ProgressCallback] = None,
        max_cost_usd: Optional[float] = None,
        deltas: bool = False,
    ) -> "AsCompleted[Any]":
        """Run a batch and iterate over its :class:`Outcome` objects as each item finishes.

        ``async for outcome in v.as_completed(items):`` yields every item exactly once (check
        ``outcome.ok``, or call ``outcome.result()`` to get the value or raise). Leaving the
        loop early (``break``, an exception, cancelling the task) sends ``cancel`` so the rest
        of the batch stops. With ``fail_fast`` the first failure cancels the rest; the
        cancelled items are still yielded. Options as for :meth:`gather`.
        After the loop, ``.stats`` holds the batch's :class:`BatchStats`.

        ``deltas=True`` streams the items (every chat or messages item that does not say
        ``stream=False``; items of other endpoints do not stream) and
        yields, besides the outcomes, each item's :class:`Delta` and :class:`Reset` events as
        they come, tagged with the item's ``index``: every event of an item comes before its
        :class:`Outcome`, and events of different items interleave. A :class:`Reset` voids
        every delta of its item so far (the attempt that wrote them failed and is retried);
        a :class:`StreamAssembler` per index applies that for you. Without ``deltas`` only
        outcomes are yielded, even for items that stream (their ``ttft_ms`` is set).
        """
        params = self._batch_params(
            items, concurrency, timeout, fail_fast, priority, progress is not None, max_cost_usd
        )
        if deltas:
            for item in params["requests"]:
                if stream_setting(item) is None and can_stream(item):
                    item["stream"] = True
        return AsCompleted(self, params, self._progress_handler(progress), deltas=deltas)

    # -- stream ----------------------------------------------------------------------------

    def stream(self, item: ItemLike, /, **chat_options: Any) -> "Stream":
        """Run one item, streamed: iterate over the pieces of its answer as they are written.

        ``async for delta in v.stream("Hi", model="gpt-4o-mini"): print(delta.text, end="")``.
        ``item`` and keywords are as for :meth:`call`; the item is sent with ``"stream": true``.
        Yields :class:`Delta` events (``text``, ``tool_calls``, ``attempt``), and a
        :class:`Reset` when an attempt that had streamed part of the answer failed and is
        retried: what came before it is void, and the answer starts again (``Reset.text`` is
        ``""``, so a loop that only prints ``text`` runs on). ``.text`` always holds the
        answer so far with resets applied.

        When the answer is complete the loop ends and ``.result`` holds the :class:`Result`
        (whole, as :meth:`call` returns it, with ``ttft_ms``). A failure raises, at the end of
        the loop, the typed exception :meth:`call` raises. Leaving the loop early (``break``,
        an exception, cancelling the task, :meth:`Stream.aclose`) sends ``cancel`` for the
        call; ``async with v.stream(...) as s:`` also waits for the server's reply before the
        block ends. Only chat and messages items stream: another item raises :class:`ValueError`.
        """
        if isinstance(item, str):
            item = chat(item, **chat_options)
        elif chat_options:
            raise TypeError("keyword options are for prompt strings; put them in the item (see volley.chat)")
        params = normalize_item(item, self.model)
        if not can_stream(params):
            what = f"a raw call (path {params['path']!r})" if "path" in params else f"endpoint {params.get('endpoint')!r}"
            raise ValueError(f"only chat and messages items stream, not {what}: use call()")
        params["stream"] = True
        return Stream(self, params)

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
        return _call_result(reply, params.get("key"))

    # -- embed -----------------------------------------------------------------------------

    @overload
    async def embed(
        self,
        texts: Union[str, Iterable[str]],
        *,
        model: Optional[str] = ...,
        provider: Optional[str] = ...,
        dimensions: Optional[int] = ...,
        numpy: Literal[False] = ...,
        batch_size: int = ...,
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        priority: Optional[_Priority] = ...,
        **options: Any,
    ) -> List[List[float]]: ...

    @overload
    async def embed(
        self,
        texts: Union[str, Iterable[str]],
        *,
        model: Optional[str] = ...,
        provider: Optional[str] = ...,
        dimensions: Optional[int] = ...,
        numpy: bool,
        batch_size: int = ...,
        concurrency: Optional[int] = ...,
        timeout: Optional[float] = ...,
        priority: Optional[_Priority] = ...,
        **options: Any,
    ) -> Any: ...

    async def embed(
        self,
        texts: Union[str, Iterable[str]],
        *,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        dimensions: Optional[int] = None,
        numpy: bool = False,
        batch_size: int = EMBED_BATCH_SIZE,
        concurrency: Optional[int] = None,
        timeout: Optional[float] = None,
        priority: Optional[_Priority] = None,
        **options: Any,
    ) -> Any:
        """Embed any number of texts; return their vectors, in input order.

        ``await v.embed(texts, model="text-embedding-3-small")`` is a list of ``List[float]``,
        one per text; with ``numpy=True`` it is one float32 ``numpy.ndarray`` of shape
        ``(len(texts), dimensions)``, built from the decoded bytes without a Python float per
        number (numpy must be installed). A bare string is one text.

        The texts go in items of ``batch_size`` texts each (:func:`volley.embed`, default 256:
        OpenAI takes at most 2,048 inputs and 300,000 tokens in one call), run as one batch
        like :meth:`gather` (``concurrency``, ``timeout`` for the whole batch, ``priority``).
        ``dimensions``, ``provider``, ``model`` and ``options`` (the other :func:`volley.embed`
        keywords: ``encoding_format``, ``max_retries``, ``user``, ``mock``, ``extra_body``,
        ...) apply to every item. ``Volley(model=...)`` is a chat model, never used here.

        Errors as :meth:`gather` raises them: the first item to fail cancels the rest and its
        typed exception is raised; its ``key`` is ``"start:stop"``, the slice of ``texts`` the
        item held, and its ``results`` hold every item's :class:`Result` or exception. A reply
        with another number of vectors than texts raises :class:`ProviderError`.
        """
        batch = [texts] if isinstance(texts, str) else list(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        spans = [(start, min(start + batch_size, len(batch))) for start in range(0, len(batch), batch_size)]
        items = [
            embed_item(
                batch[start:stop], model=model, provider=provider, dimensions=dimensions,
                key=f"{start}:{stop}", **options,
            )
            for start, stop in spans
        ]
        results = await self.gather(items, concurrency=concurrency, timeout=timeout, priority=priority) if items else []
        parts: List[Embeddings] = []
        for index, (result, (start, stop)) in enumerate(zip(results, spans)):
            vectors = result.embeddings
            if vectors is None or len(vectors) != stop - start:
                got = "no vectors" if vectors is None else f"{len(vectors)} vectors"
                raise ProviderError(
                    f"the embeddings call for texts[{start}:{stop}] answered {got} for {stop - start} texts",
                    index=index, key=f"{start}:{stop}",
                )
            parts.append(vectors)
        joined = Embeddings.join(parts) if parts else Embeddings([], None, dimensions)
        return joined.numpy() if numpy else joined.tolist()

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
        ``cost_usd`` per model, ``limiters`` and ``providers`` (each provider with a ``budget``
        shows it: ``{"max_cost_usd", "per", "spent_usd", "reserved_usd"}``). Counters restart
        when the sidecar restarts.
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
        if providers and self._socket is not None:
            # A shared session looks `api_key_env` up in the environment it was sent, as a
            # sidecar would in its own: the variables these providers name go along.
            await self._ensure()
            sent = self._sent_environment or {}
            added = {k: v for k, v in self._session_environment(providers).items() if sent.get(k) != v}
            if added:
                params["environment"] = added
        result = _result_or_raise(await self._request("configure", params))
        if "environment" in params:
            self._sent_environment = {**(self._sent_environment or {}), **params["environment"]}
        if providers:
            self._providers.update(providers)
        if default_provider is not None:
            self._default_provider = default_provider
        return result if isinstance(result, dict) else {}


class _Running:
    """One running request whose notifications an async iterator hands out in arrival order:
    what :class:`AsCompleted` and :class:`Stream` share.

    The request is sent when the iteration starts. Its notifications (routed by the callbacks
    :meth:`_callbacks` returns) and finally the end of the request go through one queue, so
    they come out in the order the server wrote them, the response last. Leaving early sends
    ``cancel``: :meth:`aclose` waits for its reply, a dropped iterator sends it from
    ``__del__`` and lets the reply be consumed and dropped.
    """

    _END = object()
    _method = ""

    def __init__(self, client: Volley, params: Dict[str, Any]) -> None:
        self._client = client
        self._params = params
        self._queue: Optional["asyncio.Queue[Any]"] = None
        self._connection: Optional[Connection] = None
        self._request_id: Optional[int] = None
        self._future: Optional["asyncio.Future[Dict[str, Any]]"] = None
        self._finished = False

    def _callbacks(self, queue: "asyncio.Queue[Any]") -> Dict[str, Any]:
        """The ``register`` callbacks that queue this request's notifications. They must not
        hold ``self``: a dropped iterator has to be collected to send its ``cancel``."""
        return {}

    async def _start(self) -> None:
        queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self._queue = queue
        try:
            connection = await self._client._ensure()
            request_id = next(self._client._ids)
            future = connection.register(request_id, **self._callbacks(queue))
        except BaseException:
            self._finished = True
            raise
        end = self._END
        future.add_done_callback(lambda _: queue.put_nowait(end))
        self._connection, self._request_id, self._future = connection, request_id, future
        try:
            connection.write({"jsonrpc": "2.0", "id": request_id, "method": self._method, "params": self._params})
        except BaseException:
            connection.abandon(request_id)
            connection.forget(request_id)
            self._finished = True
            raise
        await connection.drain()

    async def _next_entry(self) -> Any:
        """The next queued entry (a notification's payload, or ``_END``), starting the request
        first; a cancelled wait cancels the request (see :meth:`aclose`)."""
        try:
            if self._queue is None:
                await self._start()
            assert self._queue is not None
            return await self._queue.get()
        except asyncio.CancelledError:
            await self.aclose()
            raise

    def _reply(self) -> Dict[str, Any]:
        """The response, once ``_END`` was dequeued (raises :class:`SidecarCrashed` if the
        session died)."""
        self._finished = True
        assert self._future is not None
        return self._future.result()

    async def aclose(self) -> None:
        """Stop the request if it still runs: send ``cancel`` and consume the sidecar's reply
        (waiting up to the client's ``cancel_timeout``). Does nothing once it has ended."""
        if self._finished:
            return
        self._finished = True
        connection, request_id, future = self._connection, self._request_id, self._future
        if connection is None or request_id is None or future is None:
            return
        if future.done():
            if not future.cancelled():
                future.exception()  # retrieved: nobody will read it now
            return
        await self._client._cancel_and_consume(connection, request_id, future)

    def __del__(self) -> None:
        # An `async for` left with `break` drops the iterator without awaiting anything: send
        # the cancel from the loop (this may run on another thread, at garbage collection)
        # and let the reply be consumed and dropped.
        if getattr(self, "_finished", True):
            return
        connection, request_id, future = self._connection, self._request_id, self._future
        if connection is None or request_id is None or future is None or future.done():
            return

        def send_cancel() -> None:
            try:
                connection.abandon(request_id)
                if not future.done():
                    connection.write({"jsonrpc": "2.0", "method": "cancel", "params": {"id": request_id}})
            except Exception:
                pass

        try:
            future.get_loop().call_soon_threadsafe(send_cancel)
        except RuntimeError:  # the loop is closed: the sidecar is gone or going
            pass


class AsCompleted(_Running, AsyncIterator[_E]):
    """The async iterator returned by :meth:`Volley.as_completed`: ``AsCompleted[Outcome]``,
    or with ``deltas=True`` ``AsCompleted[Union[Delta, Reset, Outcome]]``.

    Also an async context manager (``async with v.as_completed(items) as outcomes:``), which
    guarantees the ``cancel`` is sent and answered when the block exits; a plain ``async for``
    that stops early sends it when the iterator is dropped.
    """

    _method = "as_completed"

    def __init__(
        self,
        client: Volley,
        params: Dict[str, Any],
        on_progress: Optional[Callable[[Dict[str, Any]], None]],
        *,
        deltas: bool = False,
    ) -> None:
        super().__init__(client, params)
        self._on_progress = on_progress
        self._deltas = deltas
        self._yielded = 0
        #: The batch's stats, once the sidecar's response arrived.
        self.stats: Optional[BatchStats] = None

    def __aiter__(self) -> "AsCompleted[_E]":
        return self

    async def __aenter__(self) -> "AsCompleted[_E]":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose()

    def _callbacks(self, queue: "asyncio.Queue[Any]") -> Dict[str, Any]:
        callbacks: Dict[str, Any] = {"on_item": queue.put_nowait, "on_progress": self._on_progress}
        if self._deltas:
            # Outcomes are queued as wire dicts, stream events already typed.
            callbacks["on_stream"] = lambda method, params: queue.put_nowait(event_from_wire(method, params))
        return callbacks

    async def _start(self) -> None:
        if self._params["requests"]:
            await super()._start()
            return
        queue: "asyncio.Queue[Any]" = asyncio.Queue()
        queue.put_nowait(self._END)
        self._queue = queue
        self._future = asyncio.get_running_loop().create_future()
        self._future.set_result({"result": {"results": [], "stats": {}}})

    async def __anext__(self) -> _E:
        if self._finished:
            raise StopAsyncIteration
        entry = await self._next_entry()
        if entry is not self._END:
            if type(entry) is dict:
                self._yielded += 1
                return cast(_E, Outcome.from_wire(entry))
            return cast(_E, entry)  # a Delta or a Reset
        reply = self._reply()
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
        await super().aclose()


class Stream(_Running, AsyncIterator[StreamEvent]):
    """The async iterator returned by :meth:`Volley.stream`: one item's :class:`Delta` events
    (and a :class:`Reset` when a retried attempt voids what came before), then the end.

    ``text`` is the answer so far (resets applied), ``tool_calls`` its tool calls so far
    (OpenAI-shaped). Once the loop has ended, ``result`` holds the whole :class:`Result`
    (``ttft_ms`` included); a failed item raises its typed exception at the end of the loop
    instead, as :meth:`Volley.call` would.

    Also an async context manager (``async with v.stream(item) as s:``), which guarantees that
    a stream left early is cancelled and the server's reply consumed when the block exits; a
    plain ``async for`` left early sends the ``cancel`` when the iterator is dropped, and
    :meth:`aclose` sends it at once.
    """

    _method = "call"

    def __init__(self, client: Volley, params: Dict[str, Any]) -> None:
        super().__init__(client, params)
        self._assembler = StreamAssembler()
        #: The whole :class:`Result` once the stream has ended successfully, else ``None``.
        self.result: Optional[Result] = None

    def __aiter__(self) -> "Stream":
        return self

    async def __aenter__(self) -> "Stream":
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.aclose()

    @property
    def text(self) -> str:
        """The answer's text so far: every delta since the last reset, joined."""
        return self._assembler.text

    @property
    def tool_calls(self) -> Optional[List[Dict[str, Any]]]:
        """The answer's tool calls so far, OpenAI-shaped; ``None`` when there are none."""
        return self._assembler.tool_calls

    @property
    def resets(self) -> int:
        """How many :class:`Reset` events came (attempts that failed mid-answer, retried)."""
        return self._assembler.resets

    @property
    def attempt(self) -> int:
        """The attempt that wrote the latest delta (0 before the first)."""
        return self._assembler.attempt

    @property
    def done(self) -> bool:
        """True once the stream has ended: answered, failed, or closed."""
        return self._finished

    def _callbacks(self, queue: "asyncio.Queue[Any]") -> Dict[str, Any]:
        return {"on_stream": lambda method, params: queue.put_nowait(event_from_wire(method, params))}

    async def __anext__(self) -> StreamEvent:
        if self._finished:
            raise StopAsyncIteration
        entry = await self._next_entry()
        if entry is not self._END:
            self._assembler.add(entry)
            return cast(StreamEvent, entry)
        self.result = _call_result(self._reply(), self._params.get("key"))
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Cancel the call if it still runs: send ``cancel`` and consume the sidecar's reply."""
        await super().aclose()


def _protocol_error(error: Mapping[str, Any]) -> ProtocolError:
    code = error.get("code")
    return ProtocolError(
        str(error.get("message", "JSON-RPC error")),
        code=code if isinstance(code, int) else -32603,
        data=error.get("data"),
    )


def _call_result(reply: Mapping[str, Any], key: Optional[str]) -> Result:
    """The :class:`Result` of a ``call`` response, or raise what it reports: the item's typed
    exception (``attempts`` set), or :class:`ProtocolError` for a refused request."""
    if "result" in reply:
        return Result.from_wire(reply["result"] or {})
    error = reply.get("error") or {}
    code = error.get("code")
    data = error.get("data")
    if code == -32803 and isinstance(data, dict) and "kind" in data:
        # The sidecar puts the attempts made next to the error object's fields.
        attempts = data.get("attempts")
        raise error_from_wire(data, attempts=attempts if isinstance(attempts, int) else None, key=key)
    if code == -32800 and isinstance(data, dict) and isinstance(data.get("error"), dict):
        raise error_from_wire(data["error"], key=key)
    raise _protocol_error(error)


def _result_or_raise(reply: Mapping[str, Any]) -> Any:
    if "error" in reply:
        raise _protocol_error(reply.get("error") or {})
    return reply.get("result")


def _batch_reply(reply: Mapping[str, Any], batch: _Batch) -> Tuple[BatchStats, Optional[int]]:
    """Stats and the fail_fast item's index from a gather (or as_completed) reply; the wire
    outcomes it holds (a gather's; as_completed sent them as notifications) go into ``batch``.

    A ``-32803`` (fail_fast) or ``-32800`` that this client did not ask for (shutdown with
    ``cancel``, a signal to the sidecar) still accounts for every outcome: those become results.
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
    outcomes = result.get("results") or []
    with gc_paused() if len(outcomes) >= 1000 else contextlib.nullcontext():
        for outcome in outcomes:
            batch.add(outcome)
    batch.drop_missing()
    return BatchStats.from_wire(result.get("stats")), failed_index


def _sets_flag(args: Sequence[str], flag: str) -> bool:
    """Whether ``args`` set ``flag`` (as ``--flag VALUE`` or ``--flag=VALUE``)."""
    return any(arg == flag or arg.startswith(flag + "=") for arg in args)


def _api_key_envs(providers: Mapping[str, Any]) -> Set[str]:
    """The ``api_key_env`` names a providers object mentions."""
    names: Set[str] = set()
    for config in providers.values():
        if isinstance(config, Mapping):
            name = config.get("api_key_env")
            if isinstance(name, str) and name:
                names.add(name)
    return names


def _config_api_key_envs(path: Optional[str]) -> Set[str]:
    """The ``api_key_env`` names of a ``--config`` file's providers (none if it cannot be read:
    the server reports a bad file itself)."""
    if path is None:
        return set()
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except (OSError, ValueError):
        return set()
    providers = document.get("providers") if isinstance(document, dict) else None
    return _api_key_envs(providers) if isinstance(providers, Mapping) else set()
