#!/usr/bin/env bash
# Runs the Python client's tests against the built sidecar; exits non-zero on any failure.
#
#   clients/python/run-tests.sh [pytest args...]
#
# The binary is $VOLLEY_BIN, else the checkout's .build/debug/volley, else .build/release/volley
# (build it with `swift build --product volley`). Needs Python 3.9+ and pytest (installed with
# pip when missing and running as root). The tests themselves use no network. The shared-mode
# tests (tests/test_shared.py) start daemons on sockets under /tmp/vsh-* and kill them after; they
# use volley-fake-llm from $VOLLEY_FAKE_LLM, else next to the binary, else the checkout's build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"

if [ -z "${VOLLEY_BIN:-}" ]; then
    for candidate in "$root/.build/debug/volley" "$root/.build/release/volley"; do
        if [ -x "$candidate" ]; then VOLLEY_BIN="$candidate"; break; fi
    done
fi
if [ -z "${VOLLEY_BIN:-}" ] || [ ! -x "$VOLLEY_BIN" ]; then
    echo "clients/python/run-tests.sh: no volley binary; run \`swift build --product volley\` in $root or set VOLLEY_BIN" >&2
    exit 1
fi
if ! "$python" -c 'import pytest' 2>/dev/null; then
    # Like scripts/test with apt: install what the tests need when running as root (CI).
    if [ "$(id -u)" = 0 ]; then
        echo "clients/python/run-tests.sh: installing pytest" >&2
        "$python" -m pip install --quiet --disable-pip-version-check pytest >&2
    else
        echo "clients/python/run-tests.sh: pytest is missing; run: $python -m pip install pytest" >&2
        exit 1
    fi
fi

export VOLLEY_BIN PYTHONDONTWRITEBYTECODE=1
unset OPENAI_API_KEY ANTHROPIC_API_KEY
cd "$here"
if [ $# -eq 0 ]; then set -- tests; fi
exec "$python" -m pytest -q -p no:cacheprovider "$@"
