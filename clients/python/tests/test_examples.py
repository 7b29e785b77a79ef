"""Every example runs offline (mock provider) and passes its own checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import PACKAGE_ROOT, kill_daemons

EXAMPLES = sorted((PACKAGE_ROOT / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_checks_itself(example: Path, binary: str) -> None:
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    env.pop("ANTHROPIC_API_KEY", None)
    env["VOLLEY_BIN"] = binary
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT / "src"), env.get("PYTHONPATH")]))
    # An example in shared mode uses the default socket: never the user's real one.
    root = tempfile.mkdtemp(prefix="vex-", dir="/tmp")
    env["VOLLEY_SOCKET"] = socket = os.path.join(root, "run", "volley.sock")
    try:
        done = subprocess.run(
            [sys.executable, str(example)], env=env, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        kill_daemons(socket)
        shutil.rmtree(root, ignore_errors=True)
    assert done.returncode == 0, f"{example.name} failed:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.strip(), f"{example.name} printed nothing"
