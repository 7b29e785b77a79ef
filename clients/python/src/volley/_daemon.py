"""Shared mode: one long-lived ``volley serve --socket PATH`` daemon that every host attaches to.

:func:`attach_or_start` connects to the daemon at a socket path, starting one (detached, so it
outlives this process) when none answers; the daemon's own lock on ``PATH.lock`` makes sure
exactly one runs per path when several hosts start one at the same moment. The connection is a
:class:`SocketTransport` under the same :class:`volley._connection.Connection` as stdio mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket as _socket
import signal
import stat
import subprocess
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, Union

from ._connection import STREAM_LIMIT, Transport
from ._errors import SidecarCrashed, VolleyError
from ._version import __version__

__all__ = [
    "SocketTransport",
    "attach_or_start",
    "default_socket_path",
    "socket_path_argument",
    "stop_daemon",
    "DAEMON_LOG",
    "MAX_SOCKET_PATH_BYTES",
]

#: ``sun_path`` holds 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107
#: The daemon's stderr is appended to this file, next to the socket.
DAEMON_LOG = "volley.log"
#: Exit code of a daemon that found another one serving its socket (normal when hosts race).
EXIT_ANOTHER_DAEMON = 3
#: How long a starting client keeps trying to connect, and how often.
START_TIMEOUT = 10.0
CONNECT_INTERVAL = 0.02

PathLike = Union[str, "os.PathLike[str]"]


def default_socket_path(environ: Optional[Mapping[str, str]] = None) -> str:
    """The socket ``volley serve --shared`` uses: ``$VOLLEY_SOCKET``, else
    ``$XDG_RUNTIME_DIR/volley/volley.sock``, else ``/tmp/volley-<euid>/volley.sock``.

    ``environ`` defaults to this process's environment (a client passes it with its ``env=``
    overrides applied).
    """
    env = os.environ if environ is None else environ
    explicit = env.get("VOLLEY_SOCKET")
    if explicit:
        return explicit
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "volley", "volley.sock")
    return f"/tmp/volley-{os.geteuid()}/volley.sock"


def socket_path_argument(path: PathLike, *, what: str = "socket") -> str:
    """``path`` made absolute and checked to fit a Unix socket address; ``ValueError`` if not."""
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise ValueError(f"{what}= must be a non-empty path, not {path!r}")
    absolute = os.path.abspath(text)
    size = len(os.fsencode(absolute))
    if size > MAX_SOCKET_PATH_BYTES:
        raise ValueError(
            f"{what} path {absolute!r} is {size} bytes long; a Unix socket path holds at most "
            f"{MAX_SOCKET_PATH_BYTES} bytes (AF_UNIX): choose a shorter one (socket=, or VOLLEY_SOCKET)"
        )
    return absolute


def log_tail(path: str, lines: int = 10) -> List[str]:
    """The last ``lines`` lines of a log file (empty when it cannot be read)."""
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - 16 * 1024))
            data = file.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    return [line for line in text if line.strip()][-lines:]


class SocketTransport(Transport):
    """One connection to a daemon. Aborting or ending it never touches the daemon process."""

    def __init__(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.path = path
        self.log_path = os.path.join(os.path.dirname(path), DAEMON_LOG)
        self.reader = reader
        self.writer = writer
        #: Set from ``initialize``'s ``server.pid``.
        self.pid: Optional[int] = None

    def initialized(self, result: Mapping[str, Any]) -> None:
        pid = (result.get("server") or {}).get("pid")
        if isinstance(pid, int):
            self.pid = pid

    def abort(self) -> None:
        """Close the connection at once; the daemon cancels this connection's running work."""
        self.writer.transport.abort()

    def end_input(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def ended(self, *, expecting_exit: bool, pending: int, server_said: Optional[str]) -> SidecarCrashed:
        self.end_input()
        who = f"the volley daemon (pid {self.pid})" if self.pid is not None else "the volley daemon"
        if expecting_exit and not pending:
            return SidecarCrashed(f"the connection to {who} at {self.path} was closed after shutdown")
        message = f"the connection to {who} at {self.path} was lost"
        if server_said:
            message += f"; the daemon said: {server_said}"
        tail = log_tail(self.log_path)
        if tail:
            message += f"; last lines of {self.log_path}:\n  " + "\n  ".join(tail)
        return SidecarCrashed(message, stderr_tail=tail)


async def _connect(path: str) -> SocketTransport:
    reader, writer = await asyncio.open_unix_connection(path, limit=STREAM_LIMIT)
    return SocketTransport(path, reader, writer)


def _spawn_detached(argv: Sequence[str], env: Optional[Mapping[str, str]], log_path: str) -> "subprocess.Popen[bytes]":
    """Start the daemon in its own session (no terminal, no signals from this process group),
    stdin and stdout on /dev/null, stderr appended to ``log_path``. A thread reaps it, so a
    daemon that exits while this process lives (one that lost the race, exit 3) is no zombie."""
    # Never through a link planted in its place.
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_fd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    threading.Thread(target=process.wait, name=f"volley-daemon-{process.pid}-reaper", daemon=True).start()
    return process


async def attach_or_start(
    path: str,
    *,
    daemon_argv: Callable[[], Awaitable[Sequence[str]]],
    env: Optional[Mapping[str, str]] = None,
    start_timeout: float = START_TIMEOUT,
    on_spawn: Optional[Callable[[int], None]] = None,
) -> SocketTransport:
    """Connect to the daemon at ``path``; when none answers (no socket file, or a dead daemon's),
    create the socket's directory (0700), spawn ``daemon_argv()`` detached, and retry connecting
    every 20 ms for up to ``start_timeout`` seconds.

    The spawned process exiting with code 3 is normal (another host's daemon won the lock);
    any other early exit, or no daemon within the time, raises :class:`SidecarCrashed` with the
    last lines of the daemon log (``volley.log`` next to the socket).
    """
    try:
        return await _connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    except OSError as error:
        raise SidecarCrashed(f"could not connect to the volley daemon at {path}: {error}") from error

    directory = os.path.dirname(path)
    _ensure_private_directory(directory)
    log_path = os.path.join(directory, DAEMON_LOG)
    argv = list(await daemon_argv())
    try:
        process = _spawn_detached(argv, env, log_path)
    except OSError as error:
        raise SidecarCrashed(f"could not start {argv[0]}: {error}") from error
    if on_spawn is not None:
        on_spawn(process.pid)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_timeout
    while True:
        try:
            return await _connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            last_error: OSError = error
        except OSError as error:
            raise SidecarCrashed(f"could not connect to the volley daemon at {path}: {error}") from error
        code = process.returncode  # set by the reaper thread
        if code is not None and code not in (0, EXIT_ANOTHER_DAEMON):
            tail = log_tail(log_path)
            raise SidecarCrashed(
                f"could not start the volley daemon for {path}: `{' '.join(argv)}` exited with code {code}"
                + (f"; last lines of {log_path}:\n  " + "\n  ".join(tail) if tail else ""),
                returncode=code,
                stderr_tail=tail,
            )
        if loop.time() >= deadline:
            tail = log_tail(log_path)
            raise SidecarCrashed(
                f"no volley daemon accepted connections at {path} within {start_timeout:g} s after starting "
                f"`{' '.join(argv)}` ({last_error.strerror or last_error})"
                + (f"; last lines of {log_path}:\n  " + "\n  ".join(tail) if tail else ""),
                returncode=code,
                stderr_tail=tail,
            )
        await asyncio.sleep(CONNECT_INTERVAL)


def _ensure_private_directory(directory: str) -> None:
    """Create the socket's directory (0700) when missing; refuse, as the daemon does, one that is
    a link, another user's, or open to group or others: the socket, its lock and the log live
    there, and nothing is written into it before it is checked."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.lstat(directory)
    except OSError as error:
        raise SidecarCrashed(f"could not create the directory of the volley socket {directory}: {error}") from error
    problem = None
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory (a link is not accepted)"
    elif info.st_uid != os.geteuid():
        problem = f"belongs to uid {info.st_uid}, not to this process's uid {os.geteuid()}"
    elif info.st_mode & 0o077:
        problem = f"is open to group or others (mode {info.st_mode & 0o777:o})"
    if problem:
        raise SidecarCrashed(
            f"not starting a volley daemon: the socket's directory {directory} {problem}; the daemon refuses it too. "
            "Use a socket in a directory only you can use (chmod 700), or the default path."
        )


def _process_exists(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # The state follows the parenthesised command name, which may itself hold ") ".
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def stop_daemon(socket: Optional[PathLike] = None, *, timeout: float = 10.0) -> Optional[int]:
    """Stop the daemon serving ``socket`` (default: :func:`default_socket_path`) and return its pid,
    or ``None`` when no daemon answers there. Blocking; starts nothing.

    It asks the daemon its pid (``initialize``), sends it SIGTERM (every connection's pending
    requests are answered ``-32800``, then it exits), and waits up to ``timeout`` seconds for it
    to be gone. Raises :class:`VolleyError` when the daemon did not exit in time or refused.
    """
    path = socket_path_argument(socket if socket is not None else default_socket_path())
    deadline = time.monotonic() + timeout
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        try:
            connection.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        # No protocol_version: a daemon of another protocol version (the one to stop after a
        # ProtocolVersionMismatch) answers too, with its pid.
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"client": {"name": "volley-python stop_daemon", "version": __version__}}}
        connection.sendall(json.dumps(hello).encode() + b"\n")
        reply = _read_reply(connection, 1)
        if "error" in reply:
            raise VolleyError(f"the volley daemon at {path} refused: {reply['error'].get('message')}")
        pid = ((reply.get("result") or {}).get("server") or {}).get("pid")
        if not isinstance(pid, int):
            raise VolleyError(f"the volley daemon at {path} did not say its pid")
        connection.sendall(b'{"jsonrpc":"2.0","method":"exit"}\n')
    finally:
        connection.close()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return pid
    while _process_exists(pid):
        if time.monotonic() >= deadline:
            raise VolleyError(f"the volley daemon (pid {pid}) at {path} did not exit within {timeout:g} s of SIGTERM")
        time.sleep(0.02)
    return pid


def _read_reply(connection: "_socket.socket", request_id: int) -> Dict[str, Any]:
    buffered = b""
    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            if not line.strip():
                continue
            message = json.loads(line)
            if isinstance(message, dict) and (message.get("id") == request_id or (message.get("id") is None and "error" in message)):
                return message
        chunk = connection.recv(65536)
        if not chunk:
            raise VolleyError("the volley daemon closed the connection before answering")
        buffered += chunk
