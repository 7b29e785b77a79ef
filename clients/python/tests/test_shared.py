"""Shared mode: hosts attached to one daemon over a Unix socket (Volley(shared=True) / socket=).

Every test uses a socket under its own temporary directory (never the user's default one) and
kills every daemon serving it in teardown. Nothing waits a fixed time to synchronise: tests wait,
bounded, for what they need to see (a host's report line, the daemon's `stats`, /proc).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import volley
from conftest import (
    BINARY,
    OFFLINE_ENV,
    PACKAGE_ROOT,
    daemons,
    kill_daemons,
    make_volley,
    mock,
    process_gone,
    run,
    wait_until,
)

HOST_SCRIPT = Path(__file__).resolve().parent / "shared_host.py"


# -- finding things ------------------------------------------------------------------------


def _supports_socket(binary: Optional[str]) -> bool:
    if binary is None:
        return False
    try:
        done = subprocess.run([binary, "help", "serve"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return "--socket" in done.stdout + done.stderr


SHARED = _supports_socket(BINARY)


def _fake_llm() -> Optional[str]:
    """$VOLLEY_FAKE_LLM, else volley-fake-llm next to the volley binary, else the checkout's build."""
    env = os.environ.get("VOLLEY_FAKE_LLM")
    if env:
        return env
    candidates = [Path(BINARY).resolve().parent / "volley-fake-llm"] if BINARY else []
    checkout = volley.find_checkout()
    if checkout is not None:
        candidates += [checkout / ".build" / config / "volley-fake-llm" for config in ("debug", "release")]
    return next((str(c) for c in candidates if c.is_file()), None)


@pytest.fixture
def shared_binary(binary: str) -> str:
    if not SHARED:
        pytest.skip(f"{binary} has no `serve --socket` (build a volley with shared mode)")
    return binary


# -- waiting, a socket per test ----------------------------------------------------------


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Call (and await, if it is a coroutine) ``check()`` until it returns something other than
    ``None``/``False``, and return that; fail after ``timeout`` seconds saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


@pytest.fixture
def socket_path(shared_binary: str) -> Iterator[str]:
    """A socket path in a fresh directory under /tmp (short: AF_UNIX paths hold 107 bytes); the
    directory itself is left for the client to create. Every daemon serving it is killed after."""
    root = tempfile.mkdtemp(prefix="vsh-", dir="/tmp")
    path = os.path.join(root, "run", "volley.sock")
    try:
        yield path
    finally:
        kill_daemons(path)
        shutil.rmtree(root, ignore_errors=True)


def connection_of(stats: Dict[str, Any], *, id: Optional[int] = None, pid: Optional[int] = None) -> Optional[Dict[str, Any]]:
    for entry in stats.get("connections") or []:
        if (id is None or entry["id"] == id) and (pid is None or entry["pid"] == pid):
            return entry  # type: ignore[no-any-return]
    return None


# -- host processes ------------------------------------------------------------------------


class Host:
    """A `shared_host.py` process: send it commands, wait (bounded) for its report lines."""

    def __init__(self, config: Dict[str, Any]) -> None:
        env = dict(os.environ)
        env.pop("OPENAI_API_KEY", None)
        env.pop("ANTHROPIC_API_KEY", None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT / "src"), env.get("PYTHONPATH")]))
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, str(HOST_SCRIPT), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            text=True,
        )
        self.pid = self.process.pid
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def expect(self, event: str, timeout: float = 30.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"host {self.pid}: no {event!r} within {timeout:g} s{self._stderr()}") from None
            if line is None:
                self.process.wait(5)
                raise AssertionError(
                    f"host {self.pid} exited ({self.process.returncode}) before {event!r}{self._stderr()}"
                )
            message = json.loads(line)
            if message["event"] == event:
                return message  # type: ignore[no-any-return]

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 30.0) -> None:
        self.send("exit")
        self.expect("closed", timeout)
        assert self.process.wait(timeout) == 0, self._stderr()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def _stderr(self) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").strip()
        return f"; stderr:\n{text[-3000:]}" if text else ""


@pytest.fixture
def hosts() -> Iterator[Callable[[Dict[str, Any]], Host]]:
    started: List[Host] = []

    def start(config: Dict[str, Any]) -> Host:
        host = Host(config)
        started.append(host)
        return host

    try:
        yield start
    finally:
        for host in started:
            host.kill()


def release(hosts: List[Host], command: str) -> None:
    """Send ``command`` to every host back to back, so they act at (nearly) the same moment."""
    for host in hosts:
        host.send(command)


# -- the fake LLM server -------------------------------------------------------------------


class FakeLLM:
    def __init__(self, *args: str) -> None:
        binary = _fake_llm()
        if binary is None:
            pytest.skip("no volley-fake-llm (set VOLLEY_FAKE_LLM or build it)")
        self.process = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = json.loads(self.process.stdout.readline())["base_url"]

    def stats(self) -> Dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/fake/stats", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def fake_llm() -> Iterator[Callable[..., FakeLLM]]:
    servers: List[FakeLLM] = []

    def start(*args: str) -> FakeLLM:
        server = FakeLLM(*args)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


# -- arguments (no daemon) -----------------------------------------------------------------


def test_bad_shared_arguments_are_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shared=False"):
        volley.Volley(shared=False, socket=str(tmp_path / "v.sock"))
    with pytest.raises(ValueError, match="shared=False"):
        volley.SyncVolley(shared=False, socket=str(tmp_path / "v.sock"))
    with pytest.raises(ValueError, match="non-empty"):
        volley.Volley(socket="")
    long_path = "/tmp/" + "d" * 120 + "/volley.sock"
    with pytest.raises(ValueError, match=r"at most 107 bytes"):
        volley.Volley(socket=long_path)
    with pytest.raises(ValueError, match=r"at most 107 bytes"):
        volley.Volley(shared=True, env={"VOLLEY_SOCKET": long_path})
    # 107 bytes fit.
    fits = "/tmp/" + "d" * (107 - len("/tmp/") - len("/v.sock")) + "/v.sock"
    assert volley.Volley(socket=fits).socket_path == fits
    # A relative path is made absolute (the daemon is started with it and outlives this cwd).
    assert volley.Volley(socket="rel.sock").socket_path == os.path.join(os.getcwd(), "rel.sock")
    assert volley.Volley().shared is False and volley.Volley().socket_path is None
    assert volley.Volley(shared=True, socket=fits).shared


def test_default_socket_path_follows_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOLLEY_SOCKET", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert volley.default_socket_path() == f"/tmp/volley-{os.geteuid()}/volley.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "")
    assert volley.default_socket_path() == f"/tmp/volley-{os.geteuid()}/volley.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert volley.default_socket_path() == "/run/user/1000/volley/volley.sock"
    monkeypatch.setenv("VOLLEY_SOCKET", "")
    assert volley.default_socket_path() == "/run/user/1000/volley/volley.sock"
    monkeypatch.setenv("VOLLEY_SOCKET", "/srv/v.sock")
    assert volley.default_socket_path() == "/srv/v.sock"
    assert volley.Volley(shared=True).socket_path == "/srv/v.sock"
    # env= overrides count, as they would for the daemon.
    assert volley.Volley(shared=True, env={"VOLLEY_SOCKET": None}).socket_path == "/run/user/1000/volley/volley.sock"


def test_a_daemon_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "volley"
    fake.write_text("#!/bin/sh\necho \"volley: cannot serve: $*\" >&2\nexit 2\n")
    fake.chmod(0o755)
    path = str(tmp_path / "run" / "v.sock")

    async def body() -> None:
        v = volley.Volley(binary=str(fake), socket=path)
        with pytest.raises(volley.SidecarCrashed) as raised:
            await v.start()
        message = str(raised.value)
        assert raised.value.returncode == 2
        assert "exited with code 2" in message and "volley.log" in message
        assert f"cannot serve: serve --socket {path} --idle-exit 300" in message
        assert "--max-line-bytes 1073741824" in message
        await v.aclose()

    started = time.monotonic()
    run(body())
    assert time.monotonic() - started < 5, "an early exit should fail at once, not after the connect timeout"
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o700


def test_a_socket_directory_open_to_others_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    never = tmp_path / "never-run"  # no daemon may be spawned: this binary does not exist

    async def body() -> None:
        v = volley.Volley(binary=str(never), socket=str(shared / "v.sock"))
        with pytest.raises(volley.SidecarCrashed) as raised:
            await v.start()
        assert "is open to group or others (mode 755)" in str(raised.value)
        await v.aclose()

    run(body())
    assert list(shared.iterdir()) == [], "no log (nor anything else) is written into it"
    # A link in place of the directory is refused the same way.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(private)

    async def through_link() -> None:
        v = volley.Volley(binary=str(never), socket=str(link / "v.sock"))
        with pytest.raises(volley.SidecarCrashed, match="not a directory"):
            await v.start()
        await v.aclose()

    run(through_link())
    assert list(private.iterdir()) == []


# -- one host ------------------------------------------------------------------------------


def test_every_api_in_shared_mode(socket_path: str) -> None:
    async def body() -> None:
        progress: List[volley.Progress] = []
        v = make_volley(BINARY, socket=socket_path)
        async with v:
            assert v.shared and v.socket_path == socket_path
            info = v.server_info
            daemon = info["server"]["pid"]
            assert v.pid == daemon and daemon != os.getpid()
            assert isinstance(info["connection"], int)
            assert stat.S_IMODE(os.stat(os.path.dirname(socket_path)).st_mode) == 0o700
            assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600

            # gather: input order whatever the finishing order, keys, progress.
            items = [mock(f"p{i}", latency_ms=200 - 20 * i, key=f"k{i}") for i in range(8)]
            results = await v.gather(items, progress=progress.append)
            assert [r.text for r in results] == [f"Mock reply to: p{i}" for i in range(8)]
            assert [o.key for o in results.outcomes] == [f"k{i}" for i in range(8)]
            assert results.stats.succeeded == 8
            assert progress and progress[-1].done == 8 and progress[-1].total == 8
            # Typed failures, with return_exceptions and without (fail_fast cancels the rest).
            mixed = await v.gather([mock("ok"), mock("bad", fail="http", status=400)], return_exceptions=True)
            assert mixed[0].text == "Mock reply to: ok" and isinstance(mixed[1], volley.HTTPError)
            with pytest.raises(volley.RateLimited) as raised:
                await v.gather([mock("429", fail="rate_limited", max_retries=0), mock("slow", latency_ms=30000)])
            assert raised.value.results is not None and isinstance(raised.value.results[1], volley.Cancelled)

            # as_completed: finishing order.
            seen = [o.index async for o in v.as_completed([mock("slow", latency_ms=300), mock("fast", latency_ms=5)])]
            assert seen == [1, 0]

            # stream, and as_completed with deltas: the deltas come through the daemon too.
            stream = v.stream(mock("streamed", reply="abcdefghij", chunk_delay_ms=2))
            assert [d.text async for d in stream] == ["abcd", "efgh", "ij"]
            assert stream.result is not None and stream.result.text == "abcdefghij" and stream.result.ttft_ms is not None
            events = [e async for e in v.as_completed([mock("d0", reply="12345")], deltas=True)]
            assert [type(e).__name__ for e in events] == ["Delta", "Delta", "Outcome"]

            # call.
            assert (await v.call(mock("one"))).text == "Mock reply to: one"
            with pytest.raises(volley.Overloaded) as overloaded:
                await v.call(mock("busy", fail="overloaded", max_retries=1, retry_after=0.01))
            assert overloaded.value.attempts == 2

            # Cancelling the awaiting task cancels the batch in the daemon.
            connection = info["connection"]
            task = asyncio.ensure_future(v.gather([mock(f"s{i}", latency_ms=30000) for i in range(4)]))

            async def four_pending() -> bool:
                entry = connection_of(await v.stats(), id=connection)
                return entry is not None and entry["items_pending"] == 4

            await until(four_pending, 10, "the daemon to hold the 4 items")
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            stats = await v.stats()
            assert stats["cancelled"] >= 4
            mine = connection_of(stats, id=connection)
            assert mine is not None and mine["items_pending"] == 0

            # configure: a provider of this connection's session.
            answer = await v.configure({"fast": {"kind": "mock", "latency_ms": 1}})
            assert "fast" in answer["providers"]
            assert (await v.call(volley.chat("x", provider="fast"))).text == "Mock reply to: x"
            assert await v.ping() >= 0

            # stats names this connection, its host and client.
            assert stats["connection"] == connection
            assert mine["pid"] == os.getpid() and mine["client"].startswith("volley-python")
        assert v.pid is None
        # close() ended the connection, never the daemon.
        assert daemons(socket_path) == [daemon]
        async with make_volley(BINARY, socket=socket_path) as again:
            assert again.pid == daemon and again.server_info["connection"] != connection

    run(body())


def test_sync_facade_in_shared_mode(socket_path: str) -> None:
    with volley.SyncVolley(binary=BINARY, env=OFFLINE_ENV, socket=socket_path) as v:
        results = v.gather([mock("a", latency_ms=50), mock("b", fail="http", status=400)], return_exceptions=True)
        assert results[0].text == "Mock reply to: a" and isinstance(results[1], volley.HTTPError)
        assert v.call(mock("c")).text == "Mock reply to: c"
        assert [o.index for o in v.as_completed([mock("slow", latency_ms=200), mock("fast", latency_ms=5)])] == [1, 0]
        stats = v.stats()
        daemon = v.volley.pid
        assert connection_of(stats, pid=os.getpid()) is not None
    assert daemon is not None and daemons(socket_path) == [daemon]
    results = volley.run_gather([mock("x")], binary=BINARY, env=OFFLINE_ENV, socket=socket_path)
    assert results[0].text == "Mock reply to: x"
    assert daemons(socket_path) == [daemon]


def test_each_connection_has_its_own_environment(socket_path: str, fake_llm: Callable[..., FakeLLM]) -> None:
    server = fake_llm()

    async def body() -> None:
        # The daemon is started by a host without keys: it has none in its own environment.
        async with make_volley(BINARY, socket=socket_path) as starter:
            with_key = make_volley(
                BINARY,
                socket=socket_path,
                env={"OPENAI_API_KEY": "sk-host-a", "OPENAI_BASE_URL": server.base_url + "/v1", "GW_KEY": "sk-gw"},
            )
            async with with_key as a, make_volley(BINARY, socket=socket_path) as b:
                assert a.pid == b.pid == starter.pid
                assert "openai" in a.server_info["capabilities"]["providers"]
                assert "openai" not in b.server_info["capabilities"]["providers"]
                answer = await a.call(volley.chat("hello", provider="openai", model="gpt-x", max_tokens=4))
                assert answer.text is not None and answer.text.startswith("Echo: hello")
                with pytest.raises(volley.ProtocolError, match="OPENAI_API_KEY"):
                    await b.call(volley.chat("hello", provider="openai", model="gpt-x"))
                # A later configure's api_key_env is looked up in this host's environment too
                # (the client sends the environment again, with the configuration kept so far).
                await a.configure({"early": {"kind": "mock", "latency_ms": 1}})
                gw = {"gw": {"kind": "openai", "base_url": server.base_url + "/v1", "api_key_env": "GW_KEY"}}
                answer_a = await a.configure(gw)
                assert "warnings" not in answer_a
                assert (await a.stats())["providers"]["gw"]["has_key"] is True
                assert (await a.call(volley.chat("via gw", provider="gw", model="gpt-x"))).text.startswith("Echo: via gw")
                # ... and what was configured before still holds.
                assert {"openai", "early", "gw"} <= set((await a.stats())["providers"])
                assert (await a.call(volley.chat("still", provider="early"))).text == "Mock reply to: still"
                answer_b = await b.configure(gw)
                assert answer_b.get("warnings"), "GW_KEY is not in b's environment: the provider has no key"
                assert (await b.stats())["providers"]["gw"]["has_key"] is False

    run(body())


# -- many hosts ----------------------------------------------------------------------------


def test_two_volleys_in_one_process_share_one_daemon(socket_path: str) -> None:
    async def body() -> None:
        async with make_volley(BINARY, socket=socket_path) as a, make_volley(BINARY, socket=socket_path) as b:
            assert a.pid == b.pid
            assert a.server_info["server"]["pid"] == b.server_info["server"]["pid"]
            ids = {a.server_info["connection"], b.server_info["connection"]}
            assert len(ids) == 2
            stats = await a.stats()
            listed = {entry["id"]: entry for entry in stats["connections"]}
            assert ids <= set(listed) and all(listed[i]["pid"] == os.getpid() for i in ids)
            assert [entry["id"] for entry in stats["connections"]] == sorted(listed)
            # Batches from both run concurrently on the daemon, each answered on its own connection.
            ra, rb = await asyncio.gather(
                a.gather([mock(f"a{i}", latency_ms=100) for i in range(10)]),
                b.gather([mock(f"b{i}", latency_ms=100) for i in range(10)]),
            )
            assert [r.text for r in ra] == [f"Mock reply to: a{i}" for i in range(10)]
            assert [r.text for r in rb] == [f"Mock reply to: b{i}" for i in range(10)]
            # Providers are per connection.
            await a.configure({"only-a": {"kind": "mock"}})
            with pytest.raises(volley.ProtocolError):
                await b.call(volley.chat("x", provider="only-a"))
            assert (await a.call(volley.chat("x", provider="only-a"))).text == "Mock reply to: x"
        assert len(daemons(socket_path)) == 1

    run(body())


def test_ten_hosts_started_at_once_end_up_on_one_daemon(
    socket_path: str, hosts: Callable[..., Host], capsys: pytest.CaptureFixture[str]
) -> None:
    started = [hosts({"socket": socket_path, "binary": BINARY}) for _ in range(10)]
    for host in started:
        host.expect("ready")
    release(started, "go")  # all ten find no daemon, and race to start one
    attached = [host.expect("attached") for host in started]
    pids = {message["server_pid"] for message in attached}
    assert len(pids) == 1, f"hosts report different daemons: {attached}"
    daemon = pids.pop()
    # The losers exit at once (code 3); only the winner stays.
    wait_until(lambda: daemons(socket_path) == [daemon], 10, f"only daemon {daemon} to be left")
    assert len({message["connection"] for message in attached}) == 10

    async def observe() -> Dict[str, Any]:
        async with make_volley(BINARY, socket=socket_path) as observer:
            assert observer.pid == daemon
            return await observer.stats()

    stats = run(observe())
    assert {host.pid for host in started} <= {entry["pid"] for entry in stats["connections"]}
    log = (Path(socket_path).parent / "volley.log").read_text()
    losers = log.count("another volley daemon serves")
    with capsys.disabled():
        print(f"\n10 hosts at once: daemon pid {daemon}; {losers} other spawned daemon(s) exited with code 3")
    for host in started:
        host.finish()
    assert daemons(socket_path) == [daemon], "closing hosts must not stop the daemon"


def test_daemon_killed_mid_batch_fails_pending_then_reconnects(socket_path: str) -> None:
    async def body() -> None:
        async with make_volley(BINARY, socket=socket_path, providers={"kept": {"kind": "mock", "latency_ms": 1}}) as v:
            first = v.pid
            assert first is not None
            gather = asyncio.ensure_future(v.gather([mock(f"s{i}", latency_ms=30000) for i in range(5)]))
            call = asyncio.ensure_future(v.call(mock("also pending", latency_ms=30000)))
            iterator = v.as_completed([mock("pending too", latency_ms=30000)])
            consume = asyncio.ensure_future(iterator.__anext__())

            async def all_pending() -> bool:
                entry = connection_of(await v.stats(), id=v.server_info["connection"])
                return entry is not None and entry["items_pending"] == 7

            await until(all_pending, 10, "the daemon to hold the 7 items")
            killed_at = time.monotonic()
            os.kill(first, signal.SIGKILL)
            for pending in (gather, call, consume):
                with pytest.raises(volley.SidecarCrashed) as raised:
                    await pending
                assert f"the connection to the volley daemon (pid {first}) at {socket_path} was lost" in str(raised.value)
            assert time.monotonic() - killed_at < 2.0, "pending calls should fail promptly"
            await until(lambda: process_gone(first), 10, "the killed daemon to be reaped")

            # The next call starts a new daemon (the dead one's socket file is replaced) and
            # re-sends the configuration.
            results = await v.gather([mock("after"), volley.chat("x", provider="kept")])
            assert [r.text for r in results] == ["Mock reply to: after", "Mock reply to: x"]
            assert v.restarts == 1 and v.pid not in (None, first)
            assert daemons(socket_path) == [v.pid]

    run(body())


def test_host_killed_mid_batch_leaves_the_others_running(socket_path: str, hosts: Callable[..., Host]) -> None:
    doomed = hosts({"socket": socket_path, "binary": BINARY,
                    "batch": {"count": 5, "provider": "mock", "mock": {"latency_ms": 30000}}})
    survivor = hosts({"socket": socket_path, "binary": BINARY,
                      "batch": {"count": 5, "provider": "mock", "mock": {"latency_ms": 2000}}})

    async def body() -> None:
        async with make_volley(BINARY, socket=socket_path) as observer:
            for host in (doomed, survivor):
                host.expect("ready")
                host.send("go")
                assert host.expect("attached")["server_pid"] == observer.pid
                host.send("run")

            async def both_running() -> Optional[Dict[str, Any]]:
                stats = await observer.stats()
                a, b = connection_of(stats, pid=doomed.pid), connection_of(stats, pid=survivor.pid)
                ok = a is not None and b is not None and a["items_pending"] == 5 and b["items_pending"] == 5
                return stats if ok else None

            await until(both_running, 20, "both hosts' batches to run on the daemon")
            doomed.process.kill()  # SIGKILL: its socket closes without shutdown
            killed_at = time.time()

            async def doomed_gone() -> Optional[Dict[str, Any]]:
                stats = await observer.stats()
                return stats if connection_of(stats, pid=doomed.pid) is None else None

            stats = await until(doomed_gone, 10, "the killed host's connection to leave the daemon's stats")
            survivor_entry = connection_of(stats, pid=survivor.pid)
            assert survivor_entry is not None and survivor_entry["items_pending"] == 5
            # The survivor's batch finishes, after the kill, every item answered.
            done = await asyncio.get_running_loop().run_in_executor(None, survivor.expect, "batch_done")
            assert done["ok"] == 5 and done["errors"] == {} and done["t1"] > killed_at

            async def doomed_cancelled() -> Optional[Dict[str, Any]]:
                stats = await observer.stats()
                return stats if stats["cancelled"] >= 5 and stats["in_flight"] == 0 else None

            # Its transfers were aborted: nothing of the killed host is left in flight.
            await until(doomed_cancelled, 10, "the killed host's items to be cancelled")
            survivor.finish()

            async def only_observer() -> bool:
                return [e["pid"] for e in (await observer.stats())["connections"]] == [os.getpid()]

            await until(only_observer, 10, "the survivor's connection to close")

    run(body())


def test_stop_daemon_answers_pending_requests_and_the_next_call_starts_a_new_one(socket_path: str) -> None:
    assert volley.stop_daemon(socket_path) is None  # nothing serves it yet

    async def body() -> None:
        async with make_volley(BINARY, socket=socket_path) as v:
            first = v.pid
            assert first is not None
            pending = asyncio.ensure_future(v.gather([mock("slow", latency_ms=30000)], return_exceptions=True))

            async def running() -> bool:
                entry = connection_of(await v.stats(), id=v.server_info["connection"])
                return entry is not None and entry["items_pending"] == 1

            await until(running, 10, "the item to run")
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, volley.stop_daemon, socket_path) == first
            # SIGTERM answers pending requests (-32800) before the daemon exits.
            results = await pending
            assert isinstance(results[0], volley.Cancelled)
            assert process_gone(first) or daemons(socket_path) == []
            assert (await v.call(mock("again"))).text == "Mock reply to: again"
            assert v.pid not in (None, first)

    run(body())


def test_idle_exit_is_passed_to_a_daemon_the_client_starts(socket_path: str) -> None:
    async def body() -> int:
        async with make_volley(BINARY, socket=socket_path, extra_args=["--idle-exit", "1"]) as v:
            assert v.pid is not None
            argv = Path(f"/proc/{v.pid}/cmdline").read_bytes().split(b"\0")
            assert argv.count(b"--idle-exit") == 1 and argv[argv.index(b"--idle-exit") + 1] == b"1"
            return v.pid

    daemon = run(body())
    wait_until(lambda: process_gone(daemon) or not daemons(socket_path), 10, "the idle daemon to exit")


# -- the show ------------------------------------------------------------------------------

SHOW_RPM = 3000  # 50 requests a second: the ideal is 600 / 50 = 12 s
SHOW_HOSTS = 4
SHOW_ITEMS = 150
#: Each host's batch `timeout`, in ideals: bounds the stdio run (which would take minutes).
SHOW_DEADLINE = 1.5


def _ideal() -> float:
    return SHOW_HOSTS * SHOW_ITEMS / (SHOW_RPM / 60)


def _show(socket: Optional[str], server: FakeLLM, hosts: Callable[..., Host]) -> Dict[str, Any]:
    providers = {"openai": {"kind": "openai", "base_url": server.base_url + "/v1", "api_key": "sk-show",
                            "limits": {"rpm": SHOW_RPM}}}
    batch = {"count": SHOW_ITEMS, "provider": "openai", "model": "gpt-show", "max_tokens": 4,
             "timeout": SHOW_DEADLINE * _ideal()}
    started = [hosts({"socket": socket, "binary": BINARY, "providers": providers, "batch": batch})
               for _ in range(SHOW_HOSTS)]
    for host in started:
        host.expect("ready")
    release(started, "go")
    servers = {host.expect("attached")["server_pid"] for host in started}
    release(started, "run")
    done = [host.expect("batch_done", timeout=120) for host in started]
    for host in started:
        host.finish()
    stats = server.stats()
    errors: Dict[str, int] = {}
    for report in done:
        for kind, count in report["errors"].items():
            errors[kind] = errors.get(kind, 0) + count
    return {
        "wall": max(r["t1"] for r in done) - min(r["t0"] for r in done),
        "ok": sum(r["ok"] for r in done),
        "errors": errors,
        "429s": stats["rate_limited"],
        "requests": stats["requests"],
        "servers": servers,
    }


def test_the_show_one_daemon_keeps_four_hosts_under_one_rate_limit(
    socket_path: str, hosts: Callable[..., Host], fake_llm: Callable[..., FakeLLM], capsys: pytest.CaptureFixture[str]
) -> None:
    """4 hosts x 150 items, each host configured with the server's real limit (`rpm`), against
    a server that allows SHOW_RPM requests a minute with a burst of 2. Shared: one daemon paces
    all four as one budget: no 429, the ideal time. stdio: 4 sidecars each pace SHOW_RPM on
    their own, 4x the budget: 429s, then each cuts its rate on its own and the batches do not
    finish in 1.5x the ideal time (the hosts' batch timeout)."""
    ideal = _ideal()
    server_args = ("--rpm", str(SHOW_RPM), "--request-burst", "2", "--latency-ms", "20")

    shared = _show(socket_path, fake_llm(*server_args), hosts)
    stdio = _show(None, fake_llm(*server_args), hosts)
    report = (
        f"\nTHE SHOW ({SHOW_HOSTS} hosts x {SHOW_ITEMS} items, server --rpm {SHOW_RPM} --request-burst 2, "
        f"ideal {ideal:.2f} s)\n"
        f"  shared (1 daemon):  wall {shared['wall']:.2f} s ({shared['wall'] / ideal - 1:+.1%} of ideal), "
        f"429s {shared['429s']}, requests {shared['requests']}, ok {shared['ok']}, errors {shared['errors']}\n"
        f"  stdio (4 sidecars): wall {stdio['wall']:.2f} s ({stdio['wall'] / ideal - 1:+.1%} of ideal), "
        f"429s {stdio['429s']}, requests {stdio['requests']}, ok {stdio['ok']}, errors {stdio['errors']}"
    )
    with capsys.disabled():  # shown in a passing run too, to be quoted
        print(report)
    assert len(shared["servers"]) == 1 and len(stdio["servers"]) == SHOW_HOSTS
    assert shared["ok"] == SHOW_HOSTS * SHOW_ITEMS and shared["errors"] == {}
    assert shared["429s"] == 0
    assert abs(shared["wall"] - ideal) <= 0.15 * ideal
    # Without sharing, the same hosts overrun the server (19-45 429s measured, against 0 shared:
    # the adaptive limits settle faster than they used to), and the limiters that adapt to it on
    # their own leave the budget underused: the checks above would fail.
    assert stdio["429s"] >= 10
    assert stdio["errors"].get("deadline_exceeded", 0) > 0 and stdio["wall"] > 1.15 * ideal
