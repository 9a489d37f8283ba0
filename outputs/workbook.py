"""A round as an Excel workbook staff can forward upward, and as a DHIS2 CSV.

The workbook, with labels in the reader's language and times in the bureau's zone:
  * Summary: by district, expected / on time / late / in progress / not started /
    rates, then the form's key totals for each district and in total;
  * Data: one row per expected school: code, name, district, stage, status, time
    of the figures shown, revision, then a column per field (its label) and the
    computed fields, and the warnings those figures were confirmed past with the
    principal's comment; one more sheet per repeatable group, one row per item;
  * Missing: the schools that have not submitted, with their principal and whether
    the bot can reach them on Telegram;
  * Revisions: every submitted revision, who submitted it, why, what changed, and
    the warnings confirmed with the comment;
  * Flagged: figures that moved more than the threshold or stayed frozen.
Numbers are numbers, times are Excel times, header rows are frozen.

DHIS2 (dataValueSets CSV, the column order DHIS2 imports): dataelement = field code,
period in DHIS2 notation, orgunit = school code, value; one row per answered
top-level field of each submitted school's latest revision (an optional multiple choice
answered "无" has no value and no row: DHIS2 refuses empty values). Text values that a
spreadsheet would take for a formula start with an apostrophe (models/cells.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from models.base import utcnow
from models.cells import inert
from models.completeness import (
    Completeness,
    SchoolStatus,
    Status,
    get_round,
    round_completeness,
    school_contacts,
    school_statuses,
)
from models.flags import Flag, FlagKind, flagged_values
from models.forms import (
    STAGES,
    ComputedDef,
    FieldDef,
    FormDef,
    FormError,
    KeyTotalResult,
    Value,
    computed,
    from_rows,
)
from models.keytotals import (
    KeyTotals,
    key_totals,
    latest_returns,
    latest_values,
    raw_value,
    round_form,
)
from models.people import District, Person, School
from models.rounds import Answer, Revision, Round, Submission
from models.schedules import period_label
from outputs.xlsx import HEADER, ONE_DECIMAL, PLAIN, TITLE, Cell, Workbook
from texts.i18n import N_, gettext_for, short

HEADER_HEIGHT = 48  # points: three lines of wrapped labels

STATUS_LABELS = {
    Status.ON_TIME: N_("On time"),
    Status.LATE: N_("Late"),
    Status.IN_PROGRESS: N_("In progress"),
    Status.NOT_STARTED: N_("Not started"),
}


def status_label(status: Status, language: str) -> str:
    return gettext_for(language)(STATUS_LABELS[status])


def stage_label(stage: str, language: str) -> str:
    text = STAGES.get(stage)
    return text.get(short(language)) if text else stage


def local(t: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A naive local time for Excel (which has no time zones)."""
    return None if t is None else t.astimezone(tz).replace(tzinfo=None)


def safe_filename(text: str) -> str:
    cleaned = re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("._")
    return cleaned[:80] or "export"


def export_filename(form: FormDef, rnd: Round, language: str, district: str | None) -> str:
    parts = [form.title.get(short(language)), period_label(rnd.period, language)]
    if district:
        parts.append(district)
    return safe_filename("-".join(parts)) + ".xlsx"


@dataclass(frozen=True)
class ExportResult:
    filename: str
    schools: int
    """Rows of the Data sheet (expected schools)."""
    submitted: int


def _number(value: Value | None) -> Cell:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return value
    return None


def _cell(f: FieldDef | ComputedDef, value: Value | None, language: str) -> Cell:
    """A value as an Excel cell: numbers and dates as such, choices as their labels."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and isinstance(f, ComputedDef):
            places = 2 if f.decimals is None else f.decimals
            return value.quantize(Decimal(1).scaleb(-places))
        return value
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str | list):
        return value  # a date
    lang = short(language)
    choices = {c.code: c.label.get(lang) for c in f.choices} if isinstance(f, FieldDef) else {}
    if isinstance(value, list):
        return ("、" if lang == "zh" else ", ").join(choices.get(v, v) for v in value)
    return choices.get(value, value)


def _label(text: Any, language: str, unit: Any = None) -> str:
    label: str = text.get(short(language))
    if unit is not None:
        u: str = unit.get(short(language))
        if u:
            label = f"{label} ({u})"
    return label


async def write_workbook(
    session: AsyncSession,
    round_id: int,
    target: str | IO[bytes],
    language: str,
    settings: Settings,
    district_id: int | None = None,
    now: datetime | None = None,
    completeness: Completeness | None = None,
    totals: KeyTotals | None = None,
    flags: list[Flag] | None = None,
) -> ExportResult:
    """Write the round's workbook to target (a path or a binary file).

    completeness, totals and flags may be passed when the caller (a summary) has
    them already; they are computed otherwise."""
    _ = gettext_for(language)
    tz = settings.bureau.tz
    now = now or utcnow()
    rnd = await get_round(session, round_id)
    form = await round_form(session, rnd)
    if completeness is None:
        completeness = await round_completeness(session, round_id, district_id, now)
    if totals is None:
        totals = await key_totals(session, form, round_id, district_id)
    if flags is None:
        flags = await flagged_values(
            session,
            rnd,
            form,
            district_id,
            settings.summary.flag_change_percent,
            settings.summary.flag_unchanged_periods,
        )
    district_name = None
    if district_id is not None:
        district_name = await session.scalar(
            select(District.name).where(District.id == district_id)
        )
    statuses = await school_statuses(session, round_id, district_id, now, with_contacts=False)
    title = f"{form.title.get(short(language))} · {period_label(rnd.period, language)}"
    if district_name:
        title += f" · {district_name}"

    with Workbook(target) as book:
        _summary_sheet(book, _, language, tz, rnd, form, title, completeness, totals, now)
        submitted = await _data_sheets(
            session, book, _, language, tz, rnd, form, statuses, district_id
        )
        await _missing_sheet(session, book, _, language, statuses)
        await _revisions_sheet(session, book, _, language, tz, rnd, form, district_id)
        _flags_sheet(book, _, language, form, flags)
    return ExportResult(
        export_filename(form, rnd, language, district_name), len(statuses), submitted
    )


async def workbook_bytes(
    session: AsyncSession,
    round_id: int,
    language: str,
    settings: Settings,
    district_id: int | None = None,
    now: datetime | None = None,
    **known: Any,
) -> tuple[bytes, ExportResult]:
    buffer = io.BytesIO()
    result = await write_workbook(
        session, round_id, buffer, language, settings, district_id, now, **known
    )
    return buffer.getvalue(), result


# --- Summary ---------------------------------------------------------------------------


def _summary_sheet(
    book: Workbook,
    _: Any,
    language: str,
    tz: ZoneInfo,
    rnd: Round,
    form: FormDef,
    title: str,
    c: Completeness,
    totals: KeyTotals,
    now: datetime,
) -> None:
    kts = list(form.key_totals)
    head = [
        _("District"),
        _("Expected"),
        _("On time"),
        _("Late"),
        _("In progress"),
        _("Not started"),
        _("Reporting rate (%)"),
        _("On-time rate (%)"),
    ]
    head += [_label(kt.label, language, kt.unit) for kt in kts]
    widths = [34.0, 9, 9, 9, 10, 10, 12, 12] + [14.0] * len(kts)
    styles = [PLAIN, PLAIN, PLAIN, PLAIN, PLAIN, PLAIN, ONE_DECIMAL, ONE_DECIMAL]
    styles += [ONE_DECIMAL if kt.aggregate == "ratio" else PLAIN for kt in kts]
    with book.sheet(_("Summary"), widths, freeze_rows=4, freeze_cols=1) as sheet:
        sheet.row([title], TITLE)
        # One text cell: dates in the narrow count columns would show as ####.
        sheet.row(
            [
                _("Deadline {deadline} · as at {now}").format(
                    deadline=f"{rnd.deadline.astimezone(tz):%Y-%m-%d %H:%M}",
                    now=f"{now.astimezone(tz):%Y-%m-%d %H:%M}",
                )
            ]
        )
        sheet.rows(1)
        sheet.row(head, HEADER, HEADER_HEIGHT)

        def line(name: str, counts: Any, results: dict[str, KeyTotalResult]) -> list[Cell]:
            return [
                name,
                counts.expected,
                counts.on_time,
                counts.late,
                counts.in_progress,
                counts.not_started,
                counts.reporting_rate,
                counts.on_time_rate,
                *(_number(results[kt.code].value) if kt.code in results else None for kt in kts),
            ]

        for d in c.districts:
            sheet.row(line(d.name, d.counts, totals.by_district.get(d.district_id, {})), styles)
        sheet.row(line(_("Total"), c.total, totals.overall), [HEADER, *styles[1:]])
        # The breakdowns of key totals (by stage), with the target where the form
        # gives one as a computed field named <key total>_target.
        breakdowns = [
            kt for kt in kts if totals.overall.get(kt.code) and totals.overall[kt.code].by
        ]
        if breakdowns:
            sheet.rows(1)
            sheet.row([_("Key total"), _("Value"), _("Target")], HEADER, 20)
            for kt in breakdowns:
                result = totals.overall[kt.code]
                label = _label(kt.label, language, kt.unit)
                for stage, value in result.by.items():
                    target = stage_target(form, kt.code, stage)
                    sheet.row(
                        [
                            f"{label} · {stage_label(stage, language)}",
                            _number(value),
                            _number(target),
                        ],
                        [PLAIN, ONE_DECIMAL, ONE_DECIMAL],
                    )


def stage_target(form: FormDef, code: str, stage: str) -> int | Decimal | None:
    """The target the form sets for a key total at a stage: a computed field named
    `<code>_target` (or `<x>_target` for a key total `<x>_rate`) that depends on the
    stage alone, e.g. staffing's qualification_target: primary 95 %, junior 90 %,
    senior 98 %. None when there is none."""
    names = {c.code for c in form.computed}
    candidates = [f"{code}_target"]
    if code.endswith("_rate"):
        candidates.append(code.removesuffix("_rate") + "_target")
    target = next((c for c in candidates if c in names), None)
    if target is None:
        return None
    try:
        value = computed(form, {}, {"stage": stage}).get(target)
    except FormError:
        return None
    return value if isinstance(value, int | Decimal) and not isinstance(value, bool) else None


# --- Data ------------------------------------------------------------------------------


async def _data_sheets(
    session: AsyncSession,
    book: Workbook,
    _: Any,
    language: str,
    tz: ZoneInfo,
    rnd: Round,
    form: FormDef,
    statuses: Sequence[SchoolStatus],
    district_id: int | None,
) -> int:
    top = [f for f in form.fields if f.group is None]
    comp = list(form.computed)
    # What the Data sheet shows of each submitted school, built while streaming its
    # answers; only the final cells are kept (a few MB for 20,000 schools).
    cells: dict[int, list[Cell]] = {}
    items: dict[int, dict[str, list[list[Cell]]]] = {}
    returns = latest_values(session, form, rnd.id, district_id)
    while True:
        try:
            r = await anext(returns)
        except StopAsyncIteration:
            break
        except FormError:
            # A stored value that does not fit the form: skip that school's figures
            # rather than stop the whole export (the Revisions sheet still lists it).
            continue
        answers = r.answers
        try:
            values = computed(form, answers, {"stage": r.stage})
        except FormError:
            values = {}
        row: list[Cell] = [_cell(f, answers.get((f.code, 0)), language) for f in top]
        row += [_cell(c, values.get(c.code), language) for c in comp]
        cells[r.school_id] = row
        for g in form.groups:
            count = answers.get((g.code, -1))
            n = count if isinstance(count, int) and not isinstance(count, bool) else 0
            if n:
                items.setdefault(r.school_id, {})[g.code] = [
                    [_cell(f, answers.get((f.code, i)), language) for f in g.fields]
                    for i in range(n)
                ]
    # What each school's figures shown are: their revision, its times, and the warnings
    # they were confirmed past with the principal's comment.
    revisions = (
        await session.execute(
            select(
                Submission.school_id,
                Submission.current_revision,
                Submission.first_submitted_at,
                Submission.last_submitted_at,
                Revision.confirmed_warnings,
            )
            .join(
                Revision,
                and_(
                    Revision.submission_id == Submission.id,
                    Revision.number == Submission.current_revision,
                ),
            )
            .where(Submission.round_id == rnd.id, Submission.current_revision > 0)
        )
    ).all()
    times = {school_id: (rev, first, last) for school_id, rev, first, last, _w in revisions}
    warned = {
        school_id: text
        for school_id, *_times, raw in revisions
        if (text := confirmed_warnings_text(raw, language)) is not None
    }
    head = [
        _("School code"),
        _("School"),
        _("District"),
        _("Stage"),
        _("Status"),
        _("First submitted"),
        _("Figures submitted at"),
        _("Revision"),
    ]
    head += [_label(f.label, language, f.unit) for f in top]
    head += [_label(c.label, language, c.unit) for c in comp]
    head.append(_("Warnings confirmed / comment"))
    widths = [10.0, 24, 14, 16, 12, 17, 17, 8] + [14.0] * (len(top) + len(comp)) + [50.0]
    blank: list[Cell] = [None] * (len(top) + len(comp))
    labels = {s: status_label(s, language) for s in Status}
    stages: dict[str, str] = {}
    submitted = 0
    with book.sheet(_("Data"), widths, freeze_rows=1, freeze_cols=2) as sheet:
        sheet.row(head, HEADER, HEADER_HEIGHT)
        for s in statuses:
            rev, first, last = times.get(s.school_id, (None, None, None))
            stage = stages.get(s.stage)
            if stage is None:
                stage = stages[s.stage] = stage_label(s.stage, language)
            shown = cells.get(s.school_id) if s.status.submitted else None
            if shown is not None:
                submitted += 1
            sheet.row(
                [
                    s.code,
                    s.name,
                    s.district,
                    stage,
                    labels[s.status],
                    local(first, tz) if s.status.submitted else None,
                    local(last, tz) if s.status.submitted else None,
                    rev if s.status.submitted else None,
                    *(shown or blank),
                    warned.get(s.school_id) if shown is not None else None,
                ]
            )
    for g in form.groups:
        g_head = [_("School code"), _("School"), _("District"), _("Item")]
        g_head += [_label(f.label, language, f.unit) for f in g.fields]
        with book.sheet(
            g.label.get(short(language)), [10.0, 24, 14, 6] + [14.0] * len(g.fields)
        ) as sheet:
            sheet.row(g_head, HEADER, HEADER_HEIGHT)
            for s in statuses:
                if not s.status.submitted:
                    continue
                for i, item in enumerate(items.get(s.school_id, {}).get(g.code, []), 1):
                    sheet.row([s.code, s.name, s.district, i, *item])
    return submitted


# --- Missing ---------------------------------------------------------------------------


async def _missing_sheet(
    session: AsyncSession,
    book: Workbook,
    _: Any,
    language: str,
    statuses: Sequence[SchoolStatus],
) -> None:
    missing = [s for s in statuses if not s.status.submitted]
    contacts = await school_contacts(session, [s.school_id for s in missing])
    head = [
        _("School code"),
        _("School"),
        _("District"),
        _("Stage"),
        _("Status"),
        _("Principal"),
        _("Reachable on Telegram"),
        _("Deputies and data clerks"),
    ]
    yes, no, none = _("yes"), _("no (blocked the bot)"), _("nobody registered")
    with book.sheet(_("Missing"), [10.0, 24, 14, 12, 10, 14, 18, 24]) as sheet:
        sheet.row(head, HEADER, HEADER_HEIGHT)
        for s in missing:
            people = contacts.get(s.school_id, [])
            principals = [p for p in people if p.role.value == "principal"]
            deputies = [p for p in people if p.role.value != "principal"]
            if principals:
                reach = yes if any(p.reachable for p in principals) else no
            else:
                reach = none
            sheet.row(
                [
                    s.code,
                    s.name,
                    s.district,
                    stage_label(s.stage, language),
                    status_label(s.status, language),
                    "、".join(p.name for p in principals) or None,
                    reach,
                    "、".join(p.name + ("" if p.reachable else f" ({no})") for p in deputies)
                    or None,
                ]
            )


# --- Revisions -------------------------------------------------------------------------


async def _revisions_sheet(
    session: AsyncSession,
    book: Workbook,
    _: Any,
    language: str,
    tz: ZoneInfo,
    rnd: Round,
    form: FormDef,
    district_id: int | None,
) -> None:
    query = (
        select(
            School.code,
            School.name,
            District.name,
            Revision.submission_id,
            Revision.number,
            Revision.submitted_at,
            Revision.on_time,
            Person.name,
            Revision.reason,
            Revision.reference,
            Revision.confirmed_warnings,
        )
        .join(Submission, Submission.id == Revision.submission_id)
        .join(School, School.id == Submission.school_id)
        .join(District, District.id == School.district_id)
        .outerjoin(Person, Person.id == Revision.submitted_by)
        .where(Submission.round_id == rnd.id)
        .order_by(District.name, School.code, Revision.number)
    )
    if district_id is not None:
        query = query.where(School.district_id == district_id)
    rows = (await session.execute(query)).all()
    changed = await _changed_fields(session, form, rnd.id, district_id, language)
    head = [
        _("School code"),
        _("School"),
        _("District"),
        _("Revision"),
        _("Submitted at"),
        _("On time"),
        _("Submitted by"),
        _("Reason for the revision"),
        _("Receipt number"),
        _("Fields changed"),
        _("Warnings confirmed / comment"),
    ]
    yes, no = _("yes"), _("no")
    with book.sheet(_("Revisions"), [10.0, 24, 14, 8, 17, 8, 12, 30, 14, 40, 50]) as sheet:
        sheet.row(head, HEADER, HEADER_HEIGHT)
        for code, name, district, sub_id, number, at, on_time, by, reason, ref, warned in rows:
            sheet.row(
                [
                    code,
                    name,
                    district,
                    number,
                    local(at, tz),
                    yes if on_time else no,
                    by,
                    reason or None,
                    ref,
                    changed.get((sub_id, number)),
                    confirmed_warnings_text(warned, language),
                ]
            )


def confirmed_warnings_text(raw: str | None, language: str) -> str | None:
    """The warnings a principal confirmed past, and their comment, as one cell:
    "<message>; <message> — comment: <text>" (None when there were none)."""
    _ = gettext_for(language)
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return raw or None
    if not isinstance(items, list):
        return None
    messages: list[str] = []
    comments: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message") or item.get("rule") or "").strip()
        comment = str(item.get("comment") or "").strip()
        if message and message not in messages:
            messages.append(message)
        if comment and comment not in comments:
            comments.append(comment)
    if not messages and not comments:
        return None
    sep = "；" if short(language) == "zh" else "; "
    if not comments:
        return sep.join(messages)
    return _("{warnings} — comment: {comment}").format(
        warnings=sep.join(messages), comment=sep.join(comments)
    )


async def _changed_fields(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None, language: str
) -> dict[tuple[int, int], str]:
    """For each revision after the first: the labels of the fields it changed."""
    query = (
        select(
            Answer.submission_id,
            Answer.revision,
            Answer.field,
            Answer.item,
            Answer.value_int,
            Answer.value_dec,
            Answer.value_text,
            Answer.value_date,
        )
        .join(Submission, Submission.id == Answer.submission_id)
        .where(
            Submission.round_id == round_id,
            Submission.current_revision > 1,
            Answer.revision > 0,
        )
        .order_by(Answer.submission_id, Answer.revision)
    )
    if district_id is not None:
        query = query.join(School, School.id == Submission.school_id).where(
            School.district_id == district_id
        )
    by_rev: dict[tuple[int, int], dict[tuple[str, int], object]] = {}
    for sid, rev, code, item, vi, vd, vt, vdate in (await session.execute(query)).all():
        by_rev.setdefault((sid, rev), {})[(code, item)] = raw_value(vi, vd, vt, vdate)
    out: dict[tuple[int, int], str] = {}
    lang = short(language)
    for (sid, rev), values in by_rev.items():
        before = by_rev.get((sid, rev - 1))
        if before is None:
            continue
        codes: list[str] = []
        for key in sorted(set(values) | set(before)):
            if values.get(key) != before.get(key) and key[0] not in codes:
                codes.append(key[0])
        labels = []
        for code in codes:
            if form.has_field(code):
                labels.append(form.field(code).label.get(lang))
            elif form.has_group(code):
                labels.append(form.group(code).label.get(lang))
        out[(sid, rev)] = ("、" if lang == "zh" else ", ").join(dict.fromkeys(labels))
    return out


# --- Flagged ---------------------------------------------------------------------------

FLAG_REASONS = {
    FlagKind.CHANGED: N_("changed by more than {percent}% from the last period"),
    FlagKind.UNCHANGED: N_("unchanged for {periods} periods"),
}


def flag_reason(flag: Flag, language: str, change_percent: int = 50) -> str:
    _ = gettext_for(language)
    return _(FLAG_REASONS[flag.kind]).format(percent=change_percent, periods=flag.periods)


def _flags_sheet(
    book: Workbook, _: Any, language: str, form: FormDef, flags: Sequence[Flag]
) -> None:
    head = [
        _("School code"),
        _("School"),
        _("District"),
        _("Field"),
        _("Last period"),
        _("This period"),
        _("Change (%)"),
        _("Why flagged"),
    ]
    with book.sheet(_("Flagged"), [10.0, 24, 14, 24, 12, 12, 10, 36]) as sheet:
        sheet.row(head, HEADER, HEADER_HEIGHT)
        for f in flags:
            label = (
                form.field(f.field).label.get(short(language))
                if form.has_field(f.field)
                else f.field
            )
            sheet.row(
                [
                    f.school_code,
                    f.school_name,
                    f.district,
                    label,
                    f.previous,
                    f.value,
                    f.change_percent if f.kind is FlagKind.CHANGED else None,
                    flag_reason(f, language),
                ]
            )


# --- DHIS2 -----------------------------------------------------------------------------

DHIS2_COLUMNS = (
    "dataelement",
    "period",
    "orgunit",
    "categoryoptioncombo",
    "attributeoptioncombo",
    "value",
    "storedby",
    "lastupdated",
    "comment",
    "followup",
)

_AUTUMN = re.compile(r"autumn|fall|秋|上学期|first term|term ?1|-T1$|S2$", re.IGNORECASE)
_SPRING = re.compile(r"spring|春|下学期|second term|term ?2|-T2$|S1$", re.IGNORECASE)


def dhis2_period(label: str) -> str:
    """The round's period label in DHIS2 notation; ValueError if it cannot be read.

    2026-W48 → 2026W48; 2026-11 → 202611; 2026 → 2026; 2026Q4 stays. Terms map to
    DHIS2's six-monthly periods by the half-year they start in: an autumn term
    (2026 autumn term, 2026秋季学期, 2026-2027学年上学期, 2026-T1) → 2026S2, a spring
    term (2027 spring term, 2027春季学期, 2026-2027学年下学期, 2027-T2) → 2027S1; for a
    school-year label "2026-2027" the spring term belongs to the second year.
    """
    text = label.strip()
    if m := re.fullmatch(r"(\d{4})-?W(\d{1,2})", text, re.IGNORECASE):
        week = int(m[2])
        if 1 <= week <= 53:
            return f"{m[1]}W{week}"
    if m := re.fullmatch(r"(\d{4})-?(\d{1,2})", text):
        month = int(m[2])
        if 1 <= month <= 12:
            return f"{m[1]}{month:02d}"
    if re.fullmatch(r"\d{4}", text):
        return text
    if re.fullmatch(r"\d{4}(Q[1-4]|S[12])", text):
        return text
    years = re.findall(r"\d{4}", text)
    if years:
        if _AUTUMN.search(text):
            return f"{years[0]}S2"
        if _SPRING.search(text):
            return f"{years[-1] if len(years) > 1 else years[0]}S1"
    raise ValueError(f"cannot express the period {label!r} in DHIS2 notation")


def _dhis2_value(f: FieldDef, value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, list):
        return inert(",".join(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str):
        return inert(value)  # a text answer; numbers above stay numbers (-5 is a figure)
    return str(value)


async def write_dhis2_csv(
    session: AsyncSession,
    round_id: int,
    out: IO[str],
    settings: Settings,
    period: str | None = None,
    district_id: int | None = None,
) -> int:
    """Write the round's submitted figures as a DHIS2 dataValueSets CSV; returns the
    number of data values. ValueError when the period cannot be expressed."""
    rnd = await get_round(session, round_id)
    form = await round_form(session, rnd)
    pe = period or dhis2_period(rnd.period)
    top = {f.code: f for f in form.fields if f.group is None}
    codes = dict(
        (
            await session.execute(
                select(Submission.id, School.code)
                .join(School, School.id == Submission.school_id)
                .where(Submission.round_id == round_id, Submission.current_revision > 0)
            )
        ).all()
    )
    updated = dict(
        (
            await session.execute(
                select(Submission.id, Revision.submitted_at)
                .join(
                    Revision,
                    and_(
                        Revision.submission_id == Submission.id,
                        Revision.number == Submission.current_revision,
                    ),
                )
                .where(Submission.round_id == round_id)
            )
        ).all()
    )
    coc = settings.export.dhis2_category_option_combo
    aoc = settings.export.dhis2_attribute_option_combo
    # CRLF, as RFC 4180 and Excel write it: the csv module quotes a field only for the
    # characters of its line terminator, so with "\n" a CR typed in an answer went out
    # unquoted and split the row in two for Excel and DHIS2.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DHIS2_COLUMNS)
    written = 0
    async for r in latest_returns(session, round_id, district_id, fields=list(top)):
        try:
            answers = from_rows(form, r.rows)
        except FormError:
            continue
        org = inert(codes.get(r.submission_id) or "")
        stamp = updated.get(r.submission_id)
        last = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if stamp else ""
        for code, f in top.items():
            value = answers.get((code, 0))
            if value is None:
                continue
            shown = _dhis2_value(f, value)
            if not shown:
                # An optional question answered "无" (none of the choices): a data value
                # without a value is refused by DHIS2's import (E7618), and none is meant.
                continue
            writer.writerow([code, pe, org, coc, aoc, shown, "huibao", last, "", ""])
            written += 1
    return written
