"""Files in a form run the real bot against the Bot API double, as the report tests do,
with a form that exists only in tests/files/fixtures."""

from pathlib import Path

import pytest

from tests.report.conftest import county, tg

__all__ = ["county", "tg"]

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def forms_dir() -> Path:
    return FIXTURES
