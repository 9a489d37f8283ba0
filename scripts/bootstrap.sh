#!/usr/bin/env bash
# Make ./.venv hold what requirements.lock pins (the bot's packages), or with
# HUIBAO_LOCK=requirements-dev.lock (scripts/test) exactly that lock (the bot's and the
# developers' tools), installing uv first if it is missing.
# Sourced by scripts/huibao and scripts/test; cheap when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${HUIBAO_PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! command -v uv >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet --user uv 2>/dev/null || "$PYTHON" -m pip install --quiet uv
    export PATH="$HOME/.local/bin:$PATH"
fi
UV="$(command -v uv || echo "$PYTHON -m uv")"

LOCK="${HUIBAO_LOCK:-requirements.lock}"
STAMP=".venv/.huibao-$(basename "$LOCK")"
WANT="$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ]; then
    $UV venv --quiet --python "$PYTHON" .venv
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
    if [ "$LOCK" = requirements.lock ]; then
        # Adds what the bot needs; tools scripts/test installed stay (no sync back and forth).
        $UV pip install --quiet -p .venv/bin/python -r "$LOCK"
    else
        $UV pip sync --quiet -p .venv/bin/python "$LOCK"
    fi
    $UV pip install --quiet -p .venv/bin/python --no-deps -e .
    echo "$WANT" > "$STAMP"
fi
