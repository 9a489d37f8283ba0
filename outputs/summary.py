"""Deadline summaries: what staff (and each district officer) receive at a deadline.

`build_summary` is the one entry point the scheduler calls; it reads the database and
returns the content only (text, chart images, workbook). Sending it, to whom and when,
is the scheduler's business (through the outbox).

The text is meant to be forwarded upward as it is: the reporting rate, on time / late
/ missing by district, the form's key totals (ratios by stage against their targets),
and the flagged figures; the workbook carries everything in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings, load_settings
from models.base import utcnow
from models.followup.completeness import Completeness
from models.followup.flags import Flag, FlagKind
from models.followup.keytotals import KeyTotals
from models.forms import FormDef, KeyTotalResult
from models.forms.parsing import COUNTERS
from models.review.rules import district_counts, is_reviewed
from models.roster.order import natural_key
from models.rounds import Round
from outputs.charts import figures_charts
from outputs.round_figures import round_figures, round_title, stage_target
from outputs.workbook import workbook_bytes
from texts.i18n import Gettext, colon, gettext_for, paren, schools, short
from texts.labels import flag_reason, form_stage_label
from texts.review import review_section
from texts.status import capped, counts_line, format_percent
from texts.when import show

MAX_TEXT = 4000  # Telegram allows 4,096 characters in a message
MAX_DISTRICT_LINES = 25
MAX_FLAG_LINES = 8


@dataclass(frozen=True)
class Summary:
    text_html: str
    """The message, in Telegram HTML, in the reader's language (under 4,096 characters)."""
    chart_pngs: list[bytes] = field(default_factory=list)
    """PNG images: the reporting rate by district, then the form's own chart if any."""
    workbook: bytes = b""
    """The .xlsx export of the round (the reader's district only for a district officer)."""
    filename: str = "summary.xlsx"


async def build_summary(
    session: AsyncSession,
    round_id: int,
    language: str,
    district_id: int | None = None,
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
) -> Summary:
    """The summary of one round as at `now`, in `language` ("zh_CN" or "en").

    district_id limits everything (text, charts, workbook) to one district, for its
    district officer. Raises models.followup.completeness.RoundNotFound for an unknown round.
    Read-only: safe to call again (a job that fires twice builds the same summary).
    """
    # Callers should pass the running bot's settings (time zone, thresholds); reading
    # them again from the same file and environment is the fallback.
    settings = settings or load_settings()
    now = now or utcnow()
    figures = await round_figures(session, round_id, district_id, now, settings)
    form, rnd, c = figures.form, figures.rnd, figures.completeness
    title = round_title(form, rnd, language, figures.district_name)
    text = summary_text(
        form,
        rnd,
        c,
        figures.totals,
        figures.flags,
        language,
        settings.bureau.tz,
        title,
        settings.summary.flag_change_percent,
    )
    text = await _with_review(session, round_id, district_id, language, text)
    _title, charts = await figures_charts(figures, language)
    workbook, result = await workbook_bytes(
        session,
        round_id,
        language,
        settings,
        district_id,
        now,
        completeness=c,
        totals=figures.totals,
        flags=figures.flags,
    )
    return Summary(text, charts, workbook, result.filename)


def format_number(value: int | Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}"


def _key_total_line(form: FormDef, r: KeyTotalResult, language: str) -> list[str]:
    _ = gettext_for(language)
    lang = short(language)
    counted = r.unit is not None and lang == "en" and r.unit.zh in COUNTERS
    unit = r.unit.get(lang) if r.unit and not counted else ""
    value = format_number(r.value)
    if r.value is not None and unit:
        value += unit if unit == "%" or lang == "zh" else f" {unit}"
    lines = [colon(_, escape(r.label.get(lang)), f"<b>{value}</b>")]
    for key, v in r.by.items():
        target = stage_target(form, r.code, key)
        line = f"  · {escape(form_stage_label(key, language))} {format_number(v)}"
        if unit == "%" and v is not None:
            line += "%"
        if target is not None and v is not None:
            met = v >= target
            verdict = _("target {target}: met") if met else _("target {target}: below")
            line = paren(_, line, verdict.format(
                target=f"{format_number(target)}{'%' if unit == '%' else ''}"
            ))
            if not met:
                line = f"<b>{line}</b>"
        lines.append(line)
    return lines


def _flag_line(form: FormDef, f: Flag, language: str, change_percent: int) -> str:
    _ = gettext_for(language)
    lang = short(language)
    label = form.field(f.field).label.get(lang) if form.has_field(f.field) else f.field
    if f.kind is FlagKind.CHANGED:
        figures = f"{format_number(f.previous)} → {format_number(f.value)}"
    else:
        figures = format_number(f.value)
    what = _("{figures}, {reason}").format(
        figures=f"{escape(label)} {figures}",
        reason=escape(flag_reason(f, language, change_percent)),
    )
    return "• " + colon(_, paren(_, escape(f.school_name), escape(f.district)), what)


async def _with_review(
    session: AsyncSession, round_id: int, district_id: int | None, language: str, text: str
) -> str:
    """A round with district review: where each district's reports stand."""
    if not await is_reviewed(session, round_id):
        return text
    _ = gettext_for(language)
    rows = await district_counts(session, round_id, district_id)
    return _fit(_, text + "\n\n" + review_section(_, rows))


def summary_text(
    form: FormDef,
    rnd: Round,
    c: Completeness,
    totals: KeyTotals,
    flags: list[Flag],
    language: str,
    tz: ZoneInfo,
    title: str,
    change_percent: int = 50,
) -> str:
    _ = gettext_for(language)
    sections = [_head_section(_, rnd, c, tz, title, language)]
    if len(c.districts) > 1:
        sections.append(_districts_section(_, c))
    if totals.overall:
        sections.append(_key_totals_section(_, form, totals, c.total.submitted, language))
    if flags:
        sections.append(_flags_section(_, form, flags, language, change_percent))
    elif totals.overall:
        sections.append(_("No figure was flagged."))
    return _fit(_, "\n\n".join(sections))


def _head_section(
    _: Gettext, rnd: Round, c: Completeness, tz: ZoneInfo, title: str, language: str
) -> str:
    t = c.total
    deadline = show(rnd.deadline, tz, "full", language, c.as_of)
    head = [f"<b>{escape(title)}</b>"]
    if c.overdue:
        head.append(_("Deadline {deadline} (passed)").format(deadline=deadline))
    else:
        days = (c.cutoff - c.as_of).days
        head.append(
            _("Deadline {deadline} (days left: {days})").format(deadline=deadline, days=days)
            if days >= 1
            else _("Deadline {deadline} (today)").format(deadline=deadline)
        )
    head.append(
        _(
            "<b>Reporting rate {rate}</b> ({submitted} of {expected} schools), on time {on_time}"
        ).format(
            rate=format_percent(t.reporting_rate),
            submitted=t.submitted,
            expected=t.expected,
            on_time=format_percent(t.on_time_rate),
        )
    )
    head.append(counts_line(_, t))
    return "\n".join(head)


def _districts_section(_: Gettext, c: Completeness) -> str:
    worst_first = sorted(
        c.districts, key=lambda d: (d.counts.reporting_rate or 0, natural_key(d.name))
    )
    lines = [_("<b>By district</b> (lowest rate first)")]
    for d in worst_first[:MAX_DISTRICT_LINES]:
        k = d.counts
        lines.append(
            _("{district}: {rate} · on time {on_time} · late {late} · missing {missing}").format(
                district=escape(d.name),
                rate=format_percent(k.reporting_rate),
                on_time=k.on_time,
                late=k.late,
                missing=k.missing,
            )
        )
    if len(worst_first) > MAX_DISTRICT_LINES:
        lines.append(
            _("… and {count} more districts in the workbook.").format(
                count=len(worst_first) - MAX_DISTRICT_LINES
            )
        )
    return "\n".join(lines)


def _key_totals_section(
    _: Gettext, form: FormDef, totals: KeyTotals, submitted: int, language: str
) -> str:
    lines = [_("<b>Key totals</b> ({schools} reported)").format(schools=schools(_, submitted))]
    for kt in form.key_totals:
        result = totals.overall.get(kt.code)
        if result is not None:
            lines += _key_total_line(form, result, language)
    return "\n".join(lines)


def _flags_section(
    _: Gettext, form: FormDef, flags: list[Flag], language: str, change_percent: int
) -> str:
    return capped(
        _("<b>Figures to check: {count}</b>").format(count=len(flags)),
        flags,
        lambda f: _flag_line(form, f, language, change_percent),
        MAX_FLAG_LINES,
        _("… and {count} more on the workbook's Flagged sheet."),
    )


def _fit(_: Gettext, text: str) -> str:
    """The text cut to fit one message: whole lines, never inside an HTML tag, and a
    last line that says where the rest is."""
    if len(text) <= MAX_TEXT:
        return text
    more = "\n" + _("… (the workbook has everything)")
    cut = text[: MAX_TEXT - len(more)].rsplit("\n", 1)[0]
    return cut + more
