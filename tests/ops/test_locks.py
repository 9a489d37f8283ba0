"""A lean runtime: requirements.lock pins what the bot needs and nothing for developers;
requirements-dev.lock (scripts/test) pins the same versions plus the developers' tools."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEVELOPERS_ONLY = {
    "pytest", "pytest-asyncio", "hypothesis", "ruff", "mypy", "import-linter", "mkdocs",
    "mkdocs-material",
}


def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    found = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", text, re.M)
    return {package.lower(): version for package, version in found}


def test_the_runtime_lock_holds_no_developer_tools() -> None:
    runtime = pins("requirements.lock")
    assert "python-telegram-bot" in runtime and "sqlalchemy" in runtime
    assert DEVELOPERS_ONLY.isdisjoint(runtime)


def test_the_developers_lock_pins_the_same_versions_and_the_tools() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert DEVELOPERS_ONLY <= set(dev)
    assert {p: v for p, v in dev.items() if p in runtime} == runtime
