"""stdio mode: a ``volley serve`` process spawned for one client, spoken to over its pipes.

:class:`ProcessTransport` owns the process: stdin and stdout carry the protocol (see
:class:`volley._connection.Connection`), stderr is read continuously and sent to the
``volley.sidecar`` logger, and when the process ends the error for pending requests gives its
exit status and the last lines of stderr.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import signal
from typing import Deque, Dict, Mapping, Optional, Sequence

from ._connection import READ_CHUNK, STREAM_LIMIT, Transport
from ._errors import SidecarCrashed

__all__ = ["ProcessTransport", "child_environment"]

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


def describe_exit(returncode: Optional[int]) -> str:
    if returncode is None:
        return "ended (exit status unknown)"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (exit code {returncode})"
    return f"exited with code {returncode}"


class ProcessTransport(Transport):
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
        self._stderr_task: Optional["asyncio.Task[None]"] = None

    async def start(self) -> None:
        """Spawn the process and start reading its stderr (raises ``OSError`` when it cannot)."""
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            limit=STREAM_LIMIT,
        )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.reader = self.process.stdout
        self.writer = self.process.stdin
        self.pid = self.process.pid
        self.log.debug("started %s (pid %d)", self.argv[0], self.process.pid)
        self._stderr_task = asyncio.ensure_future(self._read_stderr())

    def abort(self) -> None:
        """SIGKILL the process if it still runs (its futures fail once stdout reaches EOF)."""
        process = self.process
        if process is not None and process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass

    def end_input(self) -> None:
        if self.process is not None and not self.writer.is_closing():
            self.writer.close()

    async def ended(self, *, expecting_exit: bool, pending: int, server_said: Optional[str]) -> SidecarCrashed:
        """stdout reached EOF: wait for the exit status and the rest of stderr."""
        process = self.process
        assert process is not None
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except asyncio.TimeoutError:
            # stdout closed but the process lives on: it cannot answer anymore.
            self.abort()
            await process.wait()
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
            except (asyncio.TimeoutError, Exception):
                pass
        returncode = process.returncode
        tail = list(self.stderr_tail)
        message = f"the volley sidecar (pid {process.pid}) {describe_exit(returncode)}"
        if expecting_exit and not pending:
            message += " after shutdown"
        if tail:
            message += "; last stderr lines:\n  " + "\n  ".join(tail[-10:])
        return SidecarCrashed(message, returncode=returncode, stderr_tail=tail)

    # -- stderr ----------------------------------------------------------------------------

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
