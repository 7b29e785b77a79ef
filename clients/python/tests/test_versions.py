"""One release version and one protocol version across the binary and both clients; what a
client does when it meets a server of another protocol version; the binary the package carries.

The copies are listed in scripts/packaging/versions.py (scripts/package reads the version from
there too); these tests fail naming the file that disagrees.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import volley
import volley._binary as binary_module
from conftest import make_volley, run

ROOT = Path(__file__).resolve().parents[3]


def _versions_module():
    spec = importlib.util.spec_from_file_location("versions", ROOT / "scripts" / "packaging" / "versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


versions = _versions_module()


def test_one_version_for_the_binary_and_both_clients() -> None:
    found = versions.read(versions.VERSION_SOURCES, ROOT)
    assert set(found.values()) == {volley.__version__}, found


def test_one_protocol_version_for_the_server_both_clients_and_the_spec() -> None:
    found = versions.read(versions.PROTOCOL_SOURCES, ROOT)
    assert set(found.values()) == {str(volley.PROTOCOL_VERSION)}, found


def test_the_built_binary_reports_both_versions(binary: str) -> None:
    printed = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    lines = printed.splitlines()
    assert lines[0] == volley.__version__, printed
    assert f"protocol: {volley.PROTOCOL_VERSION}" in lines, printed

    async def body() -> None:
        async with make_volley(binary) as v:
            assert v.server_info["server"]["version"] == volley.__version__
            assert v.server_info["protocol_version"] == volley.PROTOCOL_VERSION

    run(body())


# A stand-in for a volley of another protocol version: it answers `initialize` only, either
# refusing the client's version (as this server does for any version but its own) or
# answering with its own.
FAKE_SERVER = """#!{python}
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("method") != "initialize":
        continue
    if {refuse!r}:
        reply = {{"error": {{"code": -32602, "message": "unsupported protocol_version 1; this server speaks 2",
                            "data": {{"supported": [2], "requested": message["params"]["protocol_version"]}}}}}}
    else:
        reply = {{"result": {{"protocol_version": 2, "server": {{"name": "volley", "version": "9.0.0", "pid": 1}}}}}}
    print(json.dumps({{"jsonrpc": "2.0", "id": message["id"], **reply}}), flush=True)
"""


@pytest.mark.parametrize("refuse", [True, False], ids=["server refuses our version", "server answers its own"])
def test_a_server_of_another_protocol_version_is_a_clear_error(tmp_path: Path, refuse: bool) -> None:
    fake = tmp_path / "volley"
    fake.write_text(FAKE_SERVER.format(python=sys.executable, refuse=refuse))
    fake.chmod(0o755)

    async def body() -> volley.ProtocolVersionMismatch:
        v = volley.Volley(binary=str(fake))
        with pytest.raises(volley.ProtocolVersionMismatch) as raised:
            await v.gather([volley.chat("hi", provider="mock")])
        # Not a crash: the next call meets the same server and says the same.
        with pytest.raises(volley.ProtocolVersionMismatch):
            await v.ping()
        await v.aclose()
        return raised.value

    error = run(body())
    message = str(error)
    assert f"volley at {fake}" in message
    assert "speaks protocol version 2; this client (volley-python" in message
    assert f"speaks protocol version {volley.PROTOCOL_VERSION}: use a volley binary of this client's release" in message
    assert (error.client_protocol, error.server_protocols) == (volley.PROTOCOL_VERSION, [2])
    assert error.server_version == (None if refuse else "9.0.0")
    assert ("(volley 9.0.0)" in message) == (not refuse)


def test_the_bundled_binary_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = tmp_path / "package" / "bin" / "volley"
    bundled.parent.mkdir(parents=True)
    bundled.write_text("#!/bin/sh\n")
    bundled.chmod(0o755)
    other = tmp_path / "other-volley"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setattr(binary_module, "BUNDLED_BINARY", bundled)
    monkeypatch.setenv("VOLLEY_BIN", str(other))
    monkeypatch.setenv("PATH", str(tmp_path))

    async def body() -> None:
        assert await volley.find_binary() == str(bundled)
        assert await volley.find_binary(str(other)) == str(other), "binary= still wins"
        monkeypatch.setattr(binary_module, "BUNDLED_BINARY", tmp_path / "missing" / "volley")
        assert await volley.find_binary() == str(other), "a source install has none: VOLLEY_BIN next"

    run(body())


def test_the_volley_command_runs_the_bundled_binary(tmp_path: Path) -> None:
    bundled = tmp_path / "bin" / "volley"
    bundled.parent.mkdir()
    bundled.write_text('#!/bin/sh\necho "bundled $*"\n')
    bundled.chmod(0o755)
    # The wheel's console entry point is volley._binary:main; here with the bundled path moved.
    program = (
        "import sys, pathlib, volley._binary as b; "
        f"b.BUNDLED_BINARY = pathlib.Path({str(bundled)!r}) if sys.argv[1] == 'yes' else pathlib.Path('/nonexistent'); "
        "sys.argv[1:] = sys.argv[2:]; b.main()"
    )
    env = {"PYTHONPATH": str(Path(volley.__file__).parents[1]), "PATH": "/usr/bin:/bin"}
    ran = subprocess.run([sys.executable, "-c", program, "yes", "--version", "x"], capture_output=True, text=True,
                         env=env, timeout=30)
    assert (ran.returncode, ran.stdout) == (0, "bundled --version x\n"), ran.stderr
    missing = subprocess.run([sys.executable, "-c", program, "no"], capture_output=True, text=True, env=env, timeout=30)
    assert missing.returncode == 127 and "no binary at /nonexistent" in missing.stderr
