"""Summary charts as PNG images: the reporting rate by district, and the form's chart.

Chinese labels need a CJK font, and a fresh server has none. The dependency
`noto-cjk-sans-otc` (Google's Noto Sans CJK, SIL Open Font License) ships the font
file inside the Python package, so `pip install` is all a machine needs; fonts the
system has (fonts-noto-cjk, WenQuanYi) are used when the package is missing. Without
any, labels would show as boxes, so the chart is then drawn with English text
(district and school names still appear, as best the fallback font can).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from models.followup.completeness import Completeness
from models.followup.keytotals import KeyTotals
from models.forms import STAGES, FormDef
from models.roster.order import natural_key
from outputs.round_figures import RoundFigures, round_figures, round_title, stage_target
from texts.i18n import gettext_for, short
from texts.labels import form_stage_label

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
)
ON_TIME = "#2e7d32"
LATE = "#f9a825"
IN_PROGRESS = "#90caf9"
NOT_STARTED = "#e0e0e0"
BAR = "#1565c0"
BELOW_TARGET = "#c62828"
MAX_BARS = 40


@cache
def cjk_family() -> str | None:
    """The name of a font family that has Chinese glyphs, registering the packaged
    Noto Sans CJK with matplotlib first; None if the machine has none."""
    from matplotlib import font_manager

    try:
        import noto_cjk_sans_otc

        font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    except (ImportError, OSError, RuntimeError) as exc:  # pragma: no cover - packaging
        log.warning("packaged CJK font unavailable: %s", exc)
    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    log.warning("no CJK font found: charts fall back to English labels")
    return None


def chart_language(language: str) -> str:
    """The language charts are drawn in: the reader's, or English without a CJK font."""
    return language if cjk_family() is not None or short(language) == "en" else "en"


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, height), dpi=130, layout="constrained")
    return fig, cjk_family()


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


# District, school and form names are shown as typed: matplotlib would read text
# between two "$" as math (and fail on "$5^$"), and LaTeX if a matplotlibrc asks for it.
LITERAL: dict[str, Any] = {"parse_math": False, "usetex": False}


def _fontdict(family: str | None) -> dict[str, Any]:
    """Properties for every text of a chart: the font, and the text taken literally."""
    return {"family": [family, "DejaVu Sans"], **LITERAL} if family else dict(LITERAL)


def reporting_rate_chart(c: Completeness, language: str, title: str) -> bytes:
    """Horizontal bars per district: on time and late as shares of the expected
    schools, the reporting rate written at the end; the lowest rate at the top, since
    that is where the phoning starts. One district: its schools by status instead."""
    language = chart_language(language)
    _ = gettext_for(language)
    if len(c.districts) <= 1:
        return _status_chart(c, language, title)
    districts = sorted(
        c.districts, key=lambda d: (d.counts.reporting_rate or 0, natural_key(d.name))
    )
    hidden = max(0, len(districts) - MAX_BARS)
    districts = districts[:MAX_BARS]
    fig, family = _figure(1.4 + 0.32 * len(districts))
    ax = fig.add_subplot()
    names = [d.name for d in districts]
    expected = [max(d.counts.expected, 1) for d in districts]
    on_time = [d.counts.on_time * 100 / e for d, e in zip(districts, expected, strict=True)]
    late = [d.counts.late * 100 / e for d, e in zip(districts, expected, strict=True)]
    y = list(range(len(districts)))
    ax.barh(y, on_time, color=ON_TIME, label=_("On time"))
    ax.barh(y, late, left=on_time, color=LATE, label=_("Late"))
    for i, d in enumerate(districts):
        rate = d.counts.reporting_rate
        ax.text(
            (on_time[i] + late[i]) + 1,
            i,
            f"{rate}% ({d.counts.submitted}/{d.counts.expected})" if rate is not None else "—",
            va="center",
            fontsize=8,
            fontdict=_fontdict(family),
        )
    ax.set_yticks(y, names, fontdict=_fontdict(family))
    ax.invert_yaxis()
    ax.set_xlim(0, 118)
    ax.margins(y=0.01)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_xlabel(_("Share of expected schools (%)"), fontdict=_fontdict(family))
    heading = title
    if hidden:
        heading += "\n" + _("(the {count} districts with the highest rates are not shown)").format(
            count=hidden
        )
    ax.set_title(heading, fontdict=_fontdict(family), fontsize=11)
    # Outside the axes: inside, it would cover the figures of the longest bars.
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        prop={"family": family, "size": 8} if family else {"size": 8},
    )
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _status_chart(c: Completeness, language: str, title: str) -> bytes:
    _ = gettext_for(language)
    fig, family = _figure(3.2)
    ax = fig.add_subplot()
    labels = [_("On time"), _("Late"), _("In progress"), _("Not started")]
    t = c.total
    values = [t.on_time, t.late, t.in_progress, t.not_started]
    bars = ax.bar(labels, values, color=[ON_TIME, LATE, IN_PROGRESS, NOT_STARTED])
    ax.bar_label(bars, fontsize=9)
    ax.set_xticks(range(4), labels, fontdict=_fontdict(family))
    ax.set_ylabel(_("Number of schools"), fontdict=_fontdict(family))
    rate = t.reporting_rate
    rate_text = _("Reporting rate {rate}%").format(rate=rate)
    heading = f"{title}\n{rate_text}" if rate is not None else title
    ax.set_title(heading, fontdict=_fontdict(family), fontsize=11)
    ax.set_ylim(0, max([*values, 1]) * 1.2)
    return _png(fig)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    target: float | None = None


def form_chart(
    form: FormDef,
    totals: KeyTotals,
    district_names: dict[int, str],
    language: str,
    title: str,
    targets: dict[str, Decimal | int | None] | None = None,
) -> bytes | None:
    """The chart the form asks for (`[chart] of = ...`): a key total by its `by`
    (e.g. the degree standard rate by stage, with each stage's target), else by
    district. None when the form has no chart or nothing to draw yet."""
    hint = form.chart
    if hint is None:
        return None
    result = totals.overall.get(hint.of)
    if result is None:
        return None
    kt = next(k for k in form.key_totals if k.code == hint.of)
    language = chart_language(language)
    lang = short(language)
    bars: list[Bar] = []
    if result.by:
        for key, value in result.by.items():
            if value is None:
                continue
            target = (targets or {}).get(key)
            bars.append(
                Bar(
                    form_stage_label(key, language) if kt.by == "stage" else key,
                    float(value),
                    float(target) if target is not None else None,
                )
            )
    else:
        for district_id, results in totals.by_district.items():
            value = results[hint.of].value if hint.of in results else None
            if value is not None:
                bars.append(Bar(district_names.get(district_id, str(district_id)), float(value)))
        bars.sort(key=lambda b: natural_key(b.label))
    if not bars:
        return None
    unit = kt.unit.get(lang) if kt.unit else ""
    name = kt.label.get(lang) + (f" ({unit})" if unit else "")
    if hint.kind == "pie" and all(b.value >= 0 for b in bars):
        return _pie(bars, f"{title}\n{name}")
    return _bars(bars, f"{title}\n{name}", language, unit == "%")


def _bars(bars: Sequence[Bar], title: str, language: str, percent: bool) -> bytes:
    _ = gettext_for(language)
    bars = list(bars)[:MAX_BARS]
    fig, family = _figure(1.4 + 0.34 * len(bars))
    ax = fig.add_subplot()
    y = list(range(len(bars)))
    colours = [BELOW_TARGET if b.target is not None and b.value < b.target else BAR for b in bars]
    ax.barh(y, [b.value for b in bars], color=colours)
    top = max([b.value for b in bars] + [b.target or 0 for b in bars] + [1])
    for i, b in enumerate(bars):
        text = f"{b.value:g}{'%' if percent else ''}"
        if b.target is not None:
            text += "  " + _("target {target}").format(target=f"{b.target:g}")
            ax.plot([b.target, b.target], [i - 0.4, i + 0.4], color="black", linewidth=1.5)
        ax.text(b.value + top * 0.01, i, text, va="center", fontsize=8, fontdict=_fontdict(family))
    ax.set_yticks(y, [b.label for b in bars], fontdict=_fontdict(family))
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.3)
    ax.set_title(title, fontdict=_fontdict(family), fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _pie(bars: Sequence[Bar], title: str) -> bytes:
    fig, family = _figure(4.5)
    ax = fig.add_subplot()
    ax.pie(
        [b.value for b in bars],
        labels=[b.label for b in bars],
        autopct="%1.0f%%",
        textprops={"fontsize": 8, **_fontdict(family)},
    )
    ax.set_title(title, fontdict=_fontdict(family), fontsize=11)
    return _png(fig)


async def round_charts(
    session: AsyncSession,
    round_id: int,
    language: str,
    settings: Settings,
    now: datetime,
    district_id: int | None = None,
) -> tuple[str, list[bytes]]:
    """A round's charts on demand (/export, `huibao export --charts`), as the deadline
    summary draws them: (the title they are drawn under, the PNG images). Raises
    RoundNotFound and FormError as the workbook does."""
    figures = await round_figures(session, round_id, district_id, now, settings)
    return await figures_charts(figures, language)


async def figures_charts(figures: RoundFigures, language: str) -> tuple[str, list[bytes]]:
    """The reporting rate by district, then the form's own chart if it has one, under
    the round's title in the language they are drawn in."""
    form, c = figures.form, figures.completeness
    names = {d.district_id: d.name for d in c.districts}
    targets = (
        {stage: stage_target(form, form.chart.of, stage) for stage in STAGES}
        if (form.chart)
        else {}
    )
    # Drawing takes a few hundred milliseconds of CPU: keep it off the event loop.
    drawn = chart_language(language)  # English if the machine cannot draw Chinese
    chart_title = round_title(form, figures.rnd, drawn, figures.district_name)
    rate_png = await asyncio.to_thread(reporting_rate_chart, c, drawn, chart_title)
    form_png = await asyncio.to_thread(
        form_chart, form, figures.totals, names, drawn, chart_title, targets
    )
    return chart_title, [rate_png] + ([form_png] if form_png else [])
