"""One running ``volley`` process: pipes, framing, request routing, stderr, death.

:class:`Sidecar` knows JSON-RPC framing and nothing about items or batches. It routes each
response to the future registered under its id, and ``item`` / ``progress`` notifications to the
callbacks registered with that request. When the process ends, every pending future fails with
:class:`SidecarCrashed` carrying the exit status and the last lines of stderr.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import signal
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Union

from ._errors import ProtocolError, SidecarCrashed
from ._gcpause import gc_paused

__all__ = ["Sidecar", "RequestId"]

RequestId = Union[int, str]
Notify = Callable[[Dict[str, Any]], None]

#: StreamReader limit for the child's pipes. Lines are split by our own splitter (no limit),
#: so this only sets how much the pipe transport buffers before it pauses.
STREAM_LIMIT = 64 * 1024 * 1024
#: Bytes asked for per read of stdout.
READ_CHUNK = 1024 * 1024
#: Lines at least this long (a big batch's reply) are parsed with the garbage collector paused.
GC_PAUSE_BYTES = 256 * 1024
#: Longest stderr line kept (longer ones are truncated, never buffered whole).
MAX_STDERR_LINE = 64 * 1024

_SIDECAR_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class _Pending:
    __slots__ = ("future", "on_item", "on_progress", "abandoned", "line_bytes")

    def __init__(
        self, future: "asyncio.Future[Dict[str, Any]]", on_item: Optional[Notify], on_progress: Optional[Notify]
    ) -> None:
        self.future = future
        self.on_item = on_item
        self.on_progress = on_progress
        self.abandoned = False
        self.line_bytes = 0


def _describe_exit(returncode: Optional[int]) -> str:
    if returncode is None:
        return "ended (exit status unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (exit code {returncode})"
    return f"exited with code {returncode}"


class Sidecar:
    """A spawned ``volley serve`` process and its three pipes. Use from one event loop only."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Optional[Mapping[str, str]] = None,
        logger: Optional[logging.Logger] = None,
        stderr_lines: int = 40,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.log = logger or logging.getLogger("volley.sidecar")
        self.process: Optional[asyncio.subprocess.Process] = None
        self.stderr_tail: Deque[str] = collections.deque(maxlen=stderr_lines)
        #: ``max_line_bytes`` from ``initialize``; requests longer than this are refused locally.
        self.max_line_bytes: Optional[int] = None
        self._pending: Dict[RequestId, _Pending] = {}
        self._tasks: List["asyncio.Task[Any]"] = []
        self._stderr_task: Optional["asyncio.Task[None]"] = None
        self._drain_lock: Optional[asyncio.Lock] = None
        self._dead: Optional[SidecarCrashed] = None
        self._exited: Optional[asyncio.Event] = None  # created in start(), on the running loop
        self.expecting_exit = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the process and start reading its stdout and stderr."""
        self._drain_lock = asyncio.Lock()
        self._exited = asyncio.Event()
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            limit=STREAM_LIMIT,
        )
        self.log.debug("started %s (pid %d)", self.argv[0], self.process.pid)
        self._stderr_task = asyncio.ensure_future(self._read_stderr())
        self._tasks = [asyncio.ensure_future(self._read_stdout()), self._stderr_task]

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self._dead is None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def wait_closed(self, timeout: float) -> Optional[int]:
        """Wait for the process to exit; kill it after ``timeout`` seconds. Returns its exit status."""
        process = self.process
        if process is None:
            return None
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            self.log.warning("volley (pid %d) did not exit within %.1f s; killing it", process.pid, timeout)
            self.kill()
            await process.wait()
        # Let the readers see EOF so every pending future is settled before we return.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2.0)
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the process if it still runs (its futures fail once stdout reaches EOF)."""
        process = self.process
        if process is not None and process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass

    def close_stdin(self) -> None:
        process = self.process
        if process is not None and process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()

    # -- sending ---------------------------------------------------------------------------

    def register(
        self, request_id: RequestId, *, on_item: Optional[Notify] = None, on_progress: Optional[Notify] = None
    ) -> "asyncio.Future[Dict[str, Any]]":
        """Register a future for the response to ``request_id`` (call before sending it)."""
        if self._dead is not None:
            raise self._dead
        future: "asyncio.Future[Dict[str, Any]]" = asyncio.get_running_loop().create_future()
        self._pending[request_id] = _Pending(future, on_item, on_progress)
        return future

    def write(self, message: Mapping[str, Any]) -> int:
        """Write one message as one line, synchronously (the transport buffers it). Returns its size.

        Raises :class:`SidecarCrashed` when the process is gone, :class:`ProtocolError` (-32010)
        when the line is longer than the sidecar accepts (it would be discarded unanswered).
        """
        if self._dead is not None:
            raise self._dead
        process = self.process
        if process is None or process.stdin is None or process.stdin.is_closing():
            raise SidecarCrashed("the volley sidecar is not running (its stdin is closed)")
        line = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        limit = self.max_line_bytes
        if limit is not None and len(line) > limit:
            raise ProtocolError(
                f"request line of {len(line)} bytes is longer than the sidecar's max_line_bytes ({limit}); "
                "start it with a larger --max-line-bytes (Volley(extra_args=...))",
                code=-32010,
                data={"byte_count": len(line), "max_line_bytes": limit},
            )
        pending = self._pending.get(message.get("id")) if "id" in message else None  # type: ignore[arg-type]
        if pending is not None:
            pending.line_bytes = len(line)
        process.stdin.write(line + b"\n")
        return len(line)

    async def drain(self) -> None:
        """Wait until the pipe to the sidecar has room (backpressure on big batches)."""
        process = self.process
        if process is None or process.stdin is None or self._drain_lock is None:
            return
        try:
            async with self._drain_lock:
                await process.stdin.drain()
        except (ConnectionError, BrokenPipeError):
            # The process is gone; the stdout reader will notice and fail the futures.
            pass

    def abandon(self, request_id: RequestId) -> None:
        """Forget a request's callbacks; its response, when it comes, is consumed and dropped."""
        pending = self._pending.get(request_id)
        if pending is not None:
            pending.abandoned = True
            pending.on_item = None
            pending.on_progress = None

    def forget(self, request_id: RequestId) -> None:
        """Drop a registration whose request was never sent."""
        self._pending.pop(request_id, None)

    # -- reading ---------------------------------------------------------------------------

    async def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        partial = bytearray()
        try:
            while True:
                chunk = await stdout.read(READ_CHUNK)
                if not chunk:
                    break
                if b"\n" not in chunk:
                    partial += chunk
                    continue
                lines = chunk.split(b"\n")
                partial += lines[0]
                self._on_line(bytes(partial))
                for line in lines[1:-1]:
                    self._on_line(line)
                partial = bytearray(lines[-1])
            if partial.strip():
                self.log.warning("volley stdout ended inside a line (%d bytes dropped)", len(partial))
        except Exception:  # pragma: no cover - a bug in routing must not hang every future
            self.log.exception("volley client: stdout reader failed")
            self.kill()
        finally:
            await self._on_exit()

    def _on_line(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            if len(line) >= GC_PAUSE_BYTES:
                with gc_paused():
                    message = json.loads(line)
            else:
                message = json.loads(line)
        except ValueError:
            self.log.error("volley sent a line that is not JSON: %r", line[:200])
            return
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
        """An error with ``id: null``: a line the sidecar could not read as a request."""
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
        self.log.error("volley reported an error for an unreadable line: %s", error)

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        stderr = self.process.stderr
        partial = bytearray()
        while True:
            chunk = await stderr.read(READ_CHUNK)
            if not chunk:
                break
            lines = chunk.split(b"\n")
            for i, piece in enumerate(lines):
                room = MAX_STDERR_LINE - len(partial)
                if room > 0:
                    partial += piece[:room]
                if i < len(lines) - 1:
                    self._on_stderr_line(bytes(partial))
                    partial = bytearray()
        if partial:
            self._on_stderr_line(bytes(partial))

    def _on_stderr_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not text.strip():
            return
        self.stderr_tail.append(text)
        level = logging.WARNING
        shown = text
        if text.startswith("{"):
            try:
                record = json.loads(text)
            except ValueError:
                record = None
            if isinstance(record, dict):
                level = _SIDECAR_LEVELS.get(str(record.get("level", "")).lower(), logging.WARNING)
                shown = str(record.get("message", text))
                metadata = record.get("metadata")
                if metadata:
                    shown += " " + " ".join(f"{k}={v}" for k, v in sorted(metadata.items()))
        self.log.log(level, "%s", shown)

    async def _on_exit(self) -> None:
        """stdout reached EOF: wait for the exit status and the rest of stderr, fail what is pending."""
        process = self.process
        assert process is not None
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except asyncio.TimeoutError:
            # stdout closed but the process lives on: it cannot answer anymore.
            self.kill()
            await process.wait()
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
            except (asyncio.TimeoutError, Exception):
                pass
        returncode = process.returncode
        tail = list(self.stderr_tail)
        message = f"the volley sidecar (pid {process.pid}) {_describe_exit(returncode)}"
        if self.expecting_exit and not self._pending:
            message += " after shutdown"
        if tail:
            message += "; last stderr lines:\n  " + "\n  ".join(tail[-10:])
        self._dead = SidecarCrashed(message, returncode=returncode, stderr_tail=tail)
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(SidecarCrashed(message, returncode=returncode, stderr_tail=tail))
            if entry.abandoned:
                # Nobody awaits it; mark the exception retrieved.
                entry.future.exception()
        if pending and not self.expecting_exit:
            self.log.error("%s with %d request(s) pending", message.split(";")[0], len(pending))
        assert self._exited is not None
        self._exited.set()

    @property
    def crash(self) -> Optional[SidecarCrashed]:
        """Why the process is gone, or ``None`` while it runs."""
        return self._dead


def child_environment(overrides: Optional[Mapping[str, Optional[str]]]) -> Optional[Dict[str, str]]:
    """This process's environment with ``overrides`` applied (a ``None`` value removes a variable)."""
    if not overrides:
        return None
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env
