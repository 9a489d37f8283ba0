"""Charts: Chinese is drawn with the packaged font; without one, English labels."""

from __future__ import annotations

import pytest

from bot import charts
from models.completeness import Completeness, Counts, DistrictCounts
from tests.status.factories import at


def test_the_packaged_cjk_font_is_found() -> None:
    # noto-cjk-sans-otc ships the font inside the Python package: no system font needed.
    assert charts.cjk_family() == "Noto Sans CJK SC"
    assert charts.chart_language("zh_CN") == "zh_CN"


# District names stay Chinese: the fallback font draws them as boxes, and says so.
@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_without_a_cjk_font_charts_speak_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "cjk_family", lambda: None)
    assert charts.chart_language("zh_CN") == "en"
    c = Completeness(
        1,
        at(22),
        at(20),
        Counts(10, 5, 2, 1, 2),
        [
            DistrictCounts(1, "东城学区", Counts(6, 3, 1, 1, 1)),
            DistrictCounts(2, "西城学区", Counts(4, 2, 1, 0, 1)),
        ],
    )
    png = charts.reporting_rate_chart(c, "zh_CN", "Staffing · 2026")
    assert png.startswith(b"\x89PNG")
