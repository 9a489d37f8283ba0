"""District review runs the real bot against the Bot API double with the report tests'
small county (two districts, four schools), plus district officers where a test adds them."""

from tests.report.conftest import county, forms_dir, tg

__all__ = ["county", "forms_dir", "tg"]
