"""One JSON-RPC session with a volley server, over any byte stream: framing and request routing.

:class:`Connection` knows line-delimited JSON-RPC and nothing about items or batches. It routes
each response to the future registered under its id, and ``item`` / ``progress`` notifications
(and a streamed item's ``delta`` / ``reset``) to the callbacks registered with that request. When the stream ends, every pending future fails
with :class:`SidecarCrashed`, worded by the transport (a process's exit status and stderr, or a
daemon's lost connection and log).

What carries the bytes is a :class:`Transport`: the pipes of a sidecar process spawned for this
client (stdio mode, :mod:`volley._sidecar`) or a Unix socket to a shared daemon (shared mode,
:mod:`volley._daemon`). Everything above this module is the same in both modes.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Union

from ._errors import ProtocolError, SidecarCrashed
from ._gcpause import gc_paused
from ._codec import encode_message, loads, loads_lines

__all__ = ["Connection", "Transport", "RequestId", "STREAM_LIMIT"]

RequestId = Union[int, str]
Notify = Callable[[Dict[str, Any]], None]
#: Called with the method (``"delta"`` or ``"reset"``) and the params of a streaming notification.
StreamNotify = Callable[[str, Dict[str, Any]], None]

#: StreamReader limit for pipes and sockets. Lines are split by our own splitter (no limit),
#: so this only sets how much the transport buffers before it pauses reading.
STREAM_LIMIT = 64 * 1024 * 1024
#: Bytes asked for per read.
READ_CHUNK = 1024 * 1024
#: A long line's pieces go to the transport while it buffers at most this much.
PUMP_BUFFER_BYTES = 256 * 1024
#: Lines at least this long (a big batch's reply) are parsed with the garbage collector paused.
GC_PAUSE_BYTES = 256 * 1024
#: Small lines parsed in one go (as one JSON array): enough to make the per-call cost vanish,
#: few enough that their dicts, dropped once routed, take little memory at a time.
LINES_PER_PARSE = 128


class Transport(abc.ABC):
    """A duplex byte stream to one volley session, and what to say when it ends.

    ``reader`` yields the server's output, ``writer`` takes requests. ``pid`` is the server
    process's id (the sidecar's, or the daemon's once ``initialize`` named it).
    """

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pid: Optional[int] = None

    def initialized(self, result: Mapping[str, Any]) -> None:
        """Called with ``initialize``'s result (the daemon's pid is only known from there)."""

    @abc.abstractmethod
    def abort(self) -> None:
        """End the session at once: stdio kills the sidecar, shared mode drops the connection
        (the daemon then cancels this connection's work; the daemon itself is never touched)."""

    @abc.abstractmethod
    def end_input(self) -> None:
        """No more requests (after ``exit``): close the sidecar's stdin / close the socket."""

    @abc.abstractmethod
    async def ended(self, *, expecting_exit: bool, pending: int, server_said: Optional[str]) -> SidecarCrashed:
        """The output reached its end: settle (reap the process, close the socket) and return the
        error that every pending request fails with. ``server_said`` is the message of the last
        error the server sent with ``id: null`` (a refused connection says why that way)."""


class _Pending:
    __slots__ = ("future", "on_item", "on_progress", "on_stream", "abandoned", "line_bytes")

    def __init__(
        self,
        future: "asyncio.Future[Dict[str, Any]]",
        on_item: Optional[Notify],
        on_progress: Optional[Notify],
        on_stream: Optional[StreamNotify] = None,
    ) -> None:
        self.future = future
        self.on_item = on_item
        self.on_progress = on_progress
        self.on_stream = on_stream
        self.abandoned = False
        self.line_bytes = 0


class Connection:
    """JSON-RPC over one :class:`Transport`. Create it on the loop that uses it, and use it from
    that loop only. Reading starts at once."""

    def __init__(self, transport: Transport, *, logger: Optional[logging.Logger] = None) -> None:
        self.transport = transport
        self.log = logger or logging.getLogger("volley")
        #: ``max_line_bytes`` from ``initialize``; requests longer than this are refused locally.
        self.max_line_bytes: Optional[int] = None
        #: Set before ``shutdown``: the end of the stream is then expected, not a crash.
        self.expecting_exit = False
        self._pending: Dict[RequestId, _Pending] = {}
        self._drain_lock = asyncio.Lock()
        #: Pieces of lines not yet handed to the transport, in order: a long line (a big batch)
        #: goes out a piece at a time, waiting for room in between, and the lines written
        #: meanwhile queue up behind it (see :meth:`write` and :meth:`_pump_out`).
        self._out: Deque[bytes] = collections.deque()
        self._pump: Optional["asyncio.Future[None]"] = None
        self._dead: Optional[SidecarCrashed] = None
        self._ended = asyncio.Event()
        self._server_said: Optional[str] = None
        self._reader = asyncio.ensure_future(self._read())

    # -- state -----------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self.transport.pid

    @property
    def alive(self) -> bool:
        return self._dead is None

    @property
    def crash(self) -> Optional[SidecarCrashed]:
        """Why the session is over, or ``None`` while it runs."""
        return self._dead

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    # -- lifecycle -------------------------------------------------------------------------

    def abort(self) -> None:
        """End the session now (see :meth:`Transport.abort`); pending futures fail once the
        reader sees the end."""
        try:
            self.transport.abort()
        except Exception:  # pragma: no cover - e.g. called at garbage collection, loop closed
            pass

    def end_input(self) -> None:
        self._flush()
        self.transport.end_input()

    async def wait_closed(self, timeout: float) -> None:
        """Wait until the stream has ended and every pending future is settled; after ``timeout``
        seconds :meth:`abort` and wait for that (bounded)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._ended.wait()), timeout)
            return
        except asyncio.TimeoutError:
            self.log.warning(
                "volley (pid %s) did not end the session within %.1f s; aborting it", self.transport.pid, timeout
            )
        self.abort()
        try:
            await asyncio.wait_for(asyncio.shield(self._ended.wait()), 10.0)
        except asyncio.TimeoutError:  # pragma: no cover - a transport that ignores abort
            self.log.error("volley (pid %s) did not end after abort", self.transport.pid)

    # -- sending ---------------------------------------------------------------------------

    def register(
        self,
        request_id: RequestId,
        *,
        on_item: Optional[Notify] = None,
        on_progress: Optional[Notify] = None,
        on_stream: Optional[StreamNotify] = None,
    ) -> "asyncio.Future[Dict[str, Any]]":
        """Register a future for the response to ``request_id`` (call before sending it).

        ``on_item`` and ``on_progress`` get the params of that request's ``item`` and
        ``progress`` notifications; ``on_stream`` gets ``("delta", params)`` and ``("reset",
        params)`` for its streamed items. Without a callback those notifications are dropped.
        """
        if self._dead is not None:
            raise self._dead
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(future, on_item, on_progress, on_stream)
        return future

    def write(self, message: Mapping[str, Any]) -> int:
        """Write one message as one line, synchronously (the transport buffers it). Returns its size.

        Raises :class:`SidecarCrashed` when the session is over, :class:`ProtocolError` (-32010)
        when the line is longer than the server accepts (it would be discarded unanswered).
        """
        if self._dead is not None:
            raise self._dead
        writer = self.transport.writer
        if writer.is_closing():
            raise SidecarCrashed("the volley session is closed (no more requests can be sent)")
        # A big batch's line comes in slices (see volley._codec.encode_message): no str of the
        # whole line, no bytes copy of it, no copy with the newline added.
        pieces = encode_message(message)
        size = sum(map(len, pieces))
        limit = self.max_line_bytes
        if limit is not None and size > limit:
            raise ProtocolError(
                f"request line of {size} bytes is longer than the server's max_line_bytes ({limit}); "
                "start it with a larger --max-line-bytes (Volley(extra_args=...))",
                code=-32010,
                data={"byte_count": size, "max_line_bytes": limit},
            )
        pending = self._pending.get(message.get("id")) if "id" in message else None  # type: ignore[arg-type]
        if pending is not None:
            pending.line_bytes = size
        if len(pieces) == 1 and not self._out:
            writer.write(pieces[0] + b"\n")
            return size
        pieces.append(b"\n")
        self._out.extend(pieces)
        del pieces
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._pump_out())
        return size

    async def _pump_out(self) -> None:
        """Hand the queued pieces to the transport, waiting whenever it holds more than a
        piece: a 13 MB request line is never copied whole into the transport's buffer (nor
        held there), and the server starts reading it at once."""
        out = self._out
        try:
            writer = self.transport.writer
            while out:
                writer.write(out.popleft())
                if writer.transport.get_write_buffer_size() > PUMP_BUFFER_BYTES:
                    async with self._drain_lock:
                        await writer.drain()
        except (ConnectionError, BrokenPipeError):
            out.clear()  # the server is gone; the reader will notice and fail the futures
        except Exception:  # pragma: no cover - must not leave a line half written unnoticed
            self.log.exception("volley client: writing to the server failed")
            out.clear()
            self.abort()
        finally:
            self._pump = None

    def _flush(self) -> None:
        """Hand every queued piece to the transport now (before the input is closed)."""
        writer = self.transport.writer
        while self._out:
            writer.write(self._out.popleft())

    async def drain(self) -> None:
        """Wait until every line written so far is with the transport and the stream to the
        server has room (backpressure on big batches)."""
        pump = self._pump
        if pump is not None:
            # Shielded: a caller cancelled now must not leave its line half written.
            await asyncio.shield(pump)
        try:
            async with self._drain_lock:
                await self.transport.writer.drain()
        except (ConnectionError, BrokenPipeError):
            # The server is gone; the reader will notice and fail the futures.
            pass

    def abandon(self, request_id: RequestId) -> None:
        """Forget a request's callbacks; its response, when it comes, is consumed and dropped."""
        pending = self._pending.get(request_id)
        if pending is not None:
            pending.abandoned = True
            pending.on_item = None
            pending.on_progress = None
            pending.on_stream = None

    def forget(self, request_id: RequestId) -> None:
        """Drop a registration whose request was never sent."""
        self._pending.pop(request_id, None)

    # -- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        reader = self.transport.reader
        partial = bytearray()
        try:
            while True:
                try:
                    chunk = await reader.read(READ_CHUNK)
                except OSError as error:  # a socket reset by the peer: the same as its end
                    self.log.debug("volley stream ended: %s", error)
                    break
                if not chunk:
                    break
                if b"\n" not in chunk:
                    partial += chunk
                    continue
                lines = chunk.split(b"\n")
                if partial:
                    partial += lines[0]
                    self._on_line(partial)
                    complete = lines[1:-1]
                else:
                    complete = lines[:-1]
                partial = bytearray(lines[-1])
                if len(complete) > 2:
                    self._on_lines(complete)
                else:
                    for line in complete:
                        self._on_line(line)
            if partial.strip():
                self.log.warning("volley output ended inside a line (%d bytes dropped)", len(partial))
        except Exception:  # pragma: no cover - a bug in routing must not hang every future
            self.log.exception("volley client: the reader failed")
            self.abort()
        finally:
            await self._on_end()

    def _on_lines(self, lines: List[bytes]) -> None:
        """Several complete lines (of one read), parsed :data:`LINES_PER_PARSE` at a time and
        routed in order. A flood of small lines (an ``as_completed`` batch's ``item``
        notifications) costs one parse per group instead of one per line (``json.loads``
        costs microseconds per call before it reads a byte); a group with a line that is not
        one JSON value is read line by line."""
        # Up to thousands of outcomes, and the objects they are turned into: no collections
        # meanwhile (they would walk the batch's results, kept so far, again and again).
        with gc_paused():
            self._parse_and_route(lines)

    def _parse_and_route(self, lines: List[bytes]) -> None:
        for start in range(0, len(lines), LINES_PER_PARSE):
            group = lines[start : start + LINES_PER_PARSE]
            messages = loads_lines(group)
            if messages is None:
                for line in group:
                    self._on_line(line)
                continue
            del group
            for message in messages:
                self._route(message)

    def _on_line(self, line: Union[bytes, bytearray]) -> None:
        if not line or line.isspace():
            return
        try:
            if len(line) >= GC_PAUSE_BYTES:
                with gc_paused():
                    message = loads(line)
            else:
                message = loads(line)
        except ValueError:
            self.log.error("volley sent a line that is not JSON: %r", bytes(line[:200]))
            return
        self._route(message)

    def _route(self, message: Any) -> None:
        try:
            if isinstance(message, list):
                for member in message:
                    self._on_message(member)
            else:
                self._on_message(message)
        except Exception:
            self.log.exception("volley client: failed to route a message")

    def _on_message(self, message: Any) -> None:
        if not isinstance(message, dict):
            self.log.error("volley sent a message that is not an object: %r", message)
            return
        method = message.get("method")
        if method is not None:
            params = message.get("params") or {}
            request_id = params.get("request") if isinstance(params, dict) else None
            pending = self._pending.get(request_id) if request_id is not None else None
            if method == "item":
                if pending is not None and pending.on_item is not None:
                    pending.on_item(params)
            elif method == "delta" or method == "reset":
                if pending is not None and pending.on_stream is not None:
                    pending.on_stream(method, params)
            elif method == "progress":
                if pending is not None and pending.on_progress is not None:
                    pending.on_progress(params)
            else:
                self.log.debug("volley notification %r ignored", method)
            return
        request_id = message.get("id")
        if request_id is None:
            self._on_orphan_error(message)
            return
        pending = self._pending.pop(request_id, None)
        if pending is None:
            self.log.warning("volley answered unknown request id %r", request_id)
            return
        if not pending.future.done():
            pending.future.set_result(message)

    def _on_orphan_error(self, message: Dict[str, Any]) -> None:
        """An error with ``id: null``: a line the server could not read as a request, or a
        connection the daemon refuses (then it closes the stream)."""
        error = message.get("error") or {}
        code = error.get("code")
        data = error.get("data") or {}
        # -32010 names the byte count of the discarded line: find the request that sent it.
        if code == -32010 and isinstance(data, dict):
            count = data.get("byte_count")
            for request_id, pending in list(self._pending.items()):
                if pending.line_bytes and count in (pending.line_bytes, pending.line_bytes + 1):
                    del self._pending[request_id]
                    if not pending.future.done():
                        pending.future.set_result({"id": request_id, "error": error})
                    return
        self._server_said = f"{error.get('message', 'error')} (JSON-RPC error {code})"
        self.log.error("volley reported an error for no request: %s", error)

    async def _on_end(self) -> None:
        """The stream ended: let the transport settle and word it, fail what is pending."""
        pending_count = len(self._pending)
        try:
            crash = await self.transport.ended(
                expecting_exit=self.expecting_exit, pending=pending_count, server_said=self._server_said
            )
        except Exception as error:  # pragma: no cover - never leave futures hanging
            crash = SidecarCrashed(f"the volley session ended ({error})")
        self._dead = crash
        self._out.clear()
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(
                    SidecarCrashed(crash.message, returncode=crash.returncode, stderr_tail=crash.stderr_tail)
                )
            if entry.abandoned:
                # Nobody awaits it; mark the exception retrieved.
                entry.future.exception()
        if pending and not self.expecting_exit:
            self.log.error("%s with %d request(s) pending", crash.message.split(";")[0], len(pending))
        self._ended.set()
