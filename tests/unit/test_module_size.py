"""No module over 600 lines outside tests (issue 10): a module that long has more than one
responsibility and is split along its seam (see docs/development/architecture.md).
Migrations are left out: each is one change to the schema, however long."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 600


def tracked_modules() -> list[Path]:
    """Every .py file git tracks, but the tests and the migrations."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.py"],
        cwd=ROOT, capture_output=True, check=True, text=True,
    ).stdout
    paths = [Path(name) for name in listed.split("\0") if name]
    return [
        path for path in paths
        if path.parts[0] != "tests" and path.parts[0] != "migrations"
        and (ROOT / path).exists()
    ]


def test_there_are_modules_to_measure() -> None:
    assert any(path.as_posix() == "bot/app.py" for path in tracked_modules())


def test_no_module_is_over_600_lines() -> None:
    too_long = []
    for path in tracked_modules():
        with (ROOT / path).open("rb") as source:
            lines = sum(1 for _line in source)
        if lines > LIMIT:
            too_long.append(f"{path.as_posix()} ({lines} lines)")
    assert not too_long, f"over {LIMIT} lines, split along a seam: " + ", ".join(sorted(too_long))
