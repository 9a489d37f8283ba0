"""A start that fails says why in one line, never prints the token, and exits non-zero."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import settings_env
from tests.e2e.proc import child_env, huibao_command
from tests.e2e.test_foundation import TOKEN


@pytest.mark.parametrize(
    "base_url",
    [
        "htp://127.0.0.1/bot",  # aiohttp puts the whole URL, token included, in its error
        "http://127.0.0.1:1/bot",  # nothing listens there
    ],
)
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_failed_start_never_shows_the_token(
    db_url: str, tmp_path: Path, base_url: str, fmt: str
) -> None:
    env = child_env(
        settings_env(
            db_url,
            HUIBAO_TELEGRAM__TOKEN=TOKEN,
            HUIBAO_TELEGRAM__BASE_URL=base_url,
            HUIBAO_LOGGING__FORMAT=fmt,
        )
    )
    done = subprocess.run(
        [*huibao_command(), "run"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode != 0
    for secret in (TOKEN, TOKEN.split(":")[1]):
        assert secret not in out and secret not in err
    assert "Traceback" not in out + err
    failed = [line for line in err.splitlines() if "start-up failed" in line]
    assert len(failed) == 1 and "NetworkError" in failed[0]
    # Every line the process wrote is a log line (no stray traceback lines between them).
    stamp = "{" if fmt == "json" else "20"
    assert all(line.startswith(stamp) for line in err.splitlines())
