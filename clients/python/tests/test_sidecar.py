"""The process: crash mid-batch and restart, bounded restarts, clean close, no zombies."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

import volley
from conftest import make_volley, mock, process_gone, run


def test_sidecar_killed_mid_batch_fails_pending_and_restarts(binary: str) -> None:
    async def body() -> None:
        providers = {"kept": {"kind": "mock", "latency_ms": 1}}
        async with make_volley(binary, providers=providers, max_restarts=2) as v:
            first_pid = v.pid
            assert first_pid is not None
            gather = asyncio.ensure_future(v.gather([mock(f"s{i}", latency_ms=5000) for i in range(5)]))
            call = asyncio.ensure_future(v.call(mock("also pending", latency_ms=5000)))
            iterator = v.as_completed([mock("pending too", latency_ms=5000)])
            consume = asyncio.ensure_future(iterator.__anext__())
            await asyncio.sleep(0.3)
            started = time.monotonic()
            os.kill(first_pid, signal.SIGKILL)
            for pending in (gather, call, consume):
                with pytest.raises(volley.SidecarCrashed) as raised:
                    await pending
                assert raised.value.returncode == -signal.SIGKILL
                assert "SIGKILL" in str(raised.value)
            assert time.monotonic() - started < 2.0, "pending calls should fail promptly"
            assert process_gone(first_pid), "the killed sidecar was not reaped"

            # The next call restarts the sidecar, with the same provider configuration.
            results = await v.gather([mock("after restart"), volley.chat("x", provider="kept")])
            assert results[0].text == "Mock reply to: after restart"
            assert results[1].text == "Mock reply to: x"
            assert v.restarts == 1 and v.pid not in (None, first_pid)

    run(body())


def test_restarts_are_bounded(binary: str) -> None:
    async def body() -> None:
        async with make_volley(binary, max_restarts=0) as v:
            pid = v.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(volley.SidecarCrashed) as raised:
                for _ in range(50):  # until the client has seen the death
                    await v.ping()
                    await asyncio.sleep(0.05)
            with pytest.raises(volley.SidecarCrashed) as raised:
                await v.ping()
            assert "max_restarts=0" in str(raised.value)

    run(body())


def test_crash_message_has_stderr_tail(binary: str) -> None:
    async def body() -> None:
        # log_level=info makes the sidecar log at start, so there is a stderr line to show.
        async with make_volley(binary, log_level="info") as v:
            pending = asyncio.ensure_future(v.call(mock("x", latency_ms=5000)))
            await asyncio.sleep(0.2)
            assert v.pid is not None
            os.kill(v.pid, signal.SIGKILL)
            with pytest.raises(volley.SidecarCrashed) as raised:
                await pending
            assert raised.value.stderr_tail, "no stderr captured"
            assert "last stderr lines" in str(raised.value)

    run(body())


def test_close_shuts_down_and_reaps(binary: str) -> None:
    async def body() -> None:
        v = make_volley(binary)
        async with v:
            pid = v.pid
            assert pid is not None
            # Drain mode lets running work finish before the process exits.
            pending = asyncio.ensure_future(v.call(mock("finishing", latency_ms=200)))
            await asyncio.sleep(0.05)
        assert (await pending).text == "Mock reply to: finishing"
        assert v.pid is None
        assert process_gone(pid)
        await v.aclose()  # twice is fine

    run(body())


def test_leaving_with_an_exception_cancels_work(binary: str) -> None:
    async def body() -> None:
        v = make_volley(binary)
        started = time.monotonic()
        pending = None
        with pytest.raises(RuntimeError):
            async with v:
                pending = asyncio.ensure_future(v.gather([mock("slow", latency_ms=5000)], return_exceptions=True))
                await asyncio.sleep(0.2)
                raise RuntimeError("boom")
        assert pending is not None
        results = await pending
        assert isinstance(results[0], volley.Cancelled)
        assert time.monotonic() - started < 3.0

    run(body())


def test_stderr_is_drained_and_logged(binary: str, caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        async with make_volley(binary, log_level="debug") as v:
            await v.gather([mock(f"p{i}") for i in range(20)])

    with caplog.at_level("DEBUG", logger="volley.sidecar"):
        run(body())
    assert any(record.name == "volley.sidecar" for record in caplog.records)


def test_binary_discovery(binary: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> None:
        monkeypatch.setenv("VOLLEY_BIN", binary)
        assert await volley.find_binary() == binary
        assert await volley.find_binary(binary) == binary
        with pytest.raises(volley.BinaryNotFound):
            await volley.find_binary(str(tmp_path / "missing"))
        monkeypatch.setenv("VOLLEY_BIN", str(tmp_path / "missing"))
        with pytest.raises(volley.BinaryNotFound):
            await volley.find_binary()
        monkeypatch.delenv("VOLLEY_BIN")
        monkeypatch.setenv("PATH", str(tmp_path))
        checkout = volley.find_checkout()
        assert checkout is not None and (checkout / "Package.swift").is_file()
        found = await volley.find_binary(build=False)
        assert found.startswith(str(checkout / ".build"))

    run(body())


def test_unknown_binary_is_reported(tmp_path) -> None:
    async def body() -> None:
        with pytest.raises(volley.BinaryNotFound):
            async with volley.Volley(binary=str(tmp_path / "nope")):
                pass

    run(body())


def test_binary_is_built_from_the_checkout_when_missing(tmp_path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    import volley._binary as binary_module

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "Package.swift").write_text('products: [.executable(name: "volley", targets: ["volley"])]\n')
    tools = tmp_path / "bin"
    tools.mkdir()
    # A stand-in for `swift build --product volley` that records its arguments.
    fake_swift = tools / "swift"
    fake_swift.write_text(
        "#!/bin/sh\n"
        'echo "$@" > args.txt\n'
        "mkdir -p .build/debug && printf '#!/bin/sh\\n' > .build/debug/volley && chmod +x .build/debug/volley\n"
    )
    fake_swift.chmod(0o755)
    monkeypatch.setattr(binary_module, "find_checkout", lambda: checkout)
    monkeypatch.delenv("VOLLEY_BIN", raising=False)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")

    async def body() -> str:
        return await volley.find_binary()

    found = run(body())
    assert found == str(checkout / ".build" / "debug" / "volley")
    assert (checkout / "args.txt").read_text().split() == ["build", "--product", "volley"]
    assert "swift build --product volley" in capfd.readouterr().err
    # Found as built from now on, without building again.
    (checkout / "args.txt").unlink()
    assert run(body()) == found and not (checkout / "args.txt").exists()
