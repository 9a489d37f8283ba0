"""Charts: Chinese is drawn with the packaged font; without one, English labels."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from models.followup.completeness import Completeness, Counts, DistrictCounts
from outputs import charts
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


# A "$" in a name is text, not math: "$5^$" made matplotlib's math parser fail and the
# summary was sent without its chart; "$东河$镇" was drawn as italic math without its "$".
DOLLAR_NAMES = ("$东河$镇", "a$b", "$5^$学区", r"$\frac$")


def _drawn_texts(monkeypatch: pytest.MonkeyPatch) -> list[Text]:
    """Every text of the figures the charts draw, kept as they are saved."""
    seen: list[Text] = []
    original = charts._png

    def keep(fig: Figure) -> bytes:
        png = original(fig)
        seen.extend(t for t in fig.findobj(Text) if isinstance(t, Text))
        return png

    monkeypatch.setattr(charts, "_png", keep)
    return seen


def test_dollar_signs_in_names_are_drawn_literally(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _drawn_texts(monkeypatch)
    c = Completeness(
        1,
        at(22),
        at(20),
        Counts(10, 5, 2, 1, 2),
        [
            DistrictCounts(i, name, Counts(6, 3, 1, 1, 1))
            for i, name in enumerate(DOLLAR_NAMES, start=1)
        ],
    )
    bars = [charts.Bar(name, i) for i, name in enumerate(DOLLAR_NAMES, start=1)]
    pngs = [
        charts.reporting_rate_chart(c, "zh_CN", "$编制$ · 2026"),
        charts._bars(bars, "a$b", "zh_CN", False),
        charts._pie(bars, "$东河$镇"),
    ]
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    named = [t for t in texts if "$" in t.get_text()]
    shown = {t.get_text() for t in named}
    assert set(DOLLAR_NAMES) <= shown and "$编制$ · 2026" in shown
    assert all(not t.get_parse_math() for t in named)
