"""A round as an Excel workbook staff can forward upward.

Labels are in the reader's language and times in the bureau's zone:
  * Summary: by district, expected / on time / late / in progress / not started /
    rates, then the form's key totals for each district and in total;
  * Data: one row per expected school: code, name, district, stage, status, time
    of the figures shown, revision, then a column per field (its label) and the
    computed fields, and the warnings those figures were confirmed past with the
    principal's comment; one more sheet per repeatable group, one row per item
    (outputs/data_sheets.py);
  * Missing: the schools that have not submitted, with their principal and whether
    the bot can reach them on Telegram;
  * Revisions: every submitted revision, who submitted it, why, what changed, and
    the warnings confirmed with the comment (outputs/revisions_sheet.py);
  * Flagged: figures that moved more than the threshold or stayed frozen.
Numbers are numbers, times are Excel times, header rows are frozen.

The DHIS2 CSV of a round is outputs/dhis2.py.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from models.base import utcnow
from models.followup.batches import district_batches
from models.followup.completeness import (
    Completeness,
    Contact,
    Counts,
    SchoolStatus,
    school_contacts,
    school_statuses,
)
from models.followup.flags import Flag, FlagKind
from models.followup.keytotals import KeyTotals
from models.forms import FormDef, KeyTotalDef, KeyTotalResult
from models.rounds import Round
from models.rounds.periods import period_label
from outputs.data_sheets import DataSheets
from outputs.review_sheet import ReviewSheets
from outputs.revisions_sheet import RevisionsSheet
from outputs.round_figures import RoundFigures, round_figures, round_title, stage_target
from outputs.workbook_cells import Batch, label, number, open_table, school_columns, write_table
from outputs.xlsx import (
    ONE_DECIMAL,
    PLAIN,
    TOTAL,
    TOTAL_ONE_DECIMAL,
    Cell,
    Heading,
    Sheet,
    Workbook,
)
from texts.i18n import gettext_for, ngettext_for, short
from texts.labels import flag_reason, form_stage_label, status_label
from texts.when import show


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
    now = now or utcnow()
    figures = await round_figures(
        session,
        round_id,
        district_id,
        now,
        settings,
        completeness=completeness,
        totals=totals,
        flags=flags,
    )
    rnd, form = figures.rnd, figures.form
    heading = _heading(_, language, settings, figures, now)
    with Workbook(target, language, heading) as book:
        _summary_sheet(book, _, language, figures)
        schools, submitted = await _school_sheets(
            session, book, _, language, settings, figures, district_id, now
        )
    filename = export_filename(form, rnd, language, figures.district_name)
    return ExportResult(filename, schools, submitted)


async def _school_sheets(
    session: AsyncSession, book: Workbook, _: Any, language: str, settings: Settings,
    figures: RoundFigures, district_id: int | None, now: datetime,
) -> tuple[int, int]:  # fmt: skip
    """The sheets after the summary, open side by side in their order and written a
    batch of districts at a time (models.followup.batches), so that a 200,000-school
    round holds one batch's statuses, figures and revisions at once. Returns the
    schools expected and those whose figures the Data sheet shows."""
    tz, rnd, form = settings.bureau.tz, figures.rnd, figures.form
    schools = 0
    with ExitStack() as stack:
        data = DataSheets(stack, book, _, language, tz, form, rnd.id)
        missing = _MissingSheet(stack, book, _, language)
        revisions = RevisionsSheet(stack, book, _, language, tz, form, rnd.id)
        _flags_sheet(book, _, language, form, figures.flags)
        review = await ReviewSheets.open(session, stack, book, _, tz, rnd.id)
        for districts in await district_batches(session, district_id):
            statuses = await school_statuses(session, rnd.id, districts, now, with_contacts=False)
            batch = Batch(districts, statuses)
            await data.add(session, batch)
            await missing.add(session, statuses)
            await revisions.add(session, districts)
            if review is not None:
                await review.add(session, batch)
            schools += len(statuses)
        if review is not None:
            review.finish()
    return schools, data.submitted


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


def bureau_name(settings: Settings, language: str) -> str:
    """The bureau as the workbook names it: its English name in English where the
    settings give one (`bureau.name_en`, where they have it), else its name."""
    return settings.bureau.name_in(language)


def _heading(
    _: Any, language: str, settings: Settings, figures: RoundFigures, now: datetime
) -> Heading:
    """Above every sheet: the bureau, the form and the period (and the district); then
    the reporting unit, and when the workbook was made against the round's deadline."""
    bureau = bureau_name(settings, language)
    tz = settings.bureau.tz
    title = round_title(figures.form, figures.rnd, language, figures.district_name)
    unit = _("Reporting unit: {unit}").format(unit=bureau)
    made = _("Made at: {now}    Deadline: {deadline}").format(
        now=show(now, tz, "iso", language),
        deadline=show(figures.rnd.deadline, tz, "iso", language),
    )
    return Heading(f"{bureau} · {title}", (unit, made))


# --- Summary ---------------------------------------------------------------------------


def _summary_sheet(book: Workbook, _: Any, language: str, figures: RoundFigures) -> None:
    form, c, totals = figures.form, figures.completeness, figures.totals
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
    head += [label(kt.label, language, kt.unit) for kt in kts]
    widths = [34.0, 9, 9, 9, 10, 10, 12, 12] + [14.0] * len(kts)
    decimals = [False] * 6 + [True, True] + [kt.aggregate == "ratio" for kt in kts]
    styles = [ONE_DECIMAL if d else PLAIN for d in decimals]
    with book.sheet(_("Summary"), widths, freeze_cols=1) as sheet:
        sheet.table(head)
        for d in c.districts:
            results = totals.by_district.get(d.district_id, {})
            sheet.row(_counts_row(d.name, d.counts, results, kts), styles)
        sheet.row(
            _counts_row(total_label(language, c.total), c.total, totals.overall, kts),
            [TOTAL_ONE_DECIMAL if d else TOTAL for d in decimals],
        )
        if c.total.submitted < c.total.expected:
            sheet.line(_("The figures add up the schools that reported only."))
        _breakdowns(sheet, _, language, form, totals)


def total_label(language: str, counts: Counts) -> str:
    """The total row's name, saying how many schools its figures cover:
    合计（已上报 4/29 所） / Total (4 of 29 schools reported)."""
    ngettext = ngettext_for(language)
    return ngettext(
        "Total ({reported} of {expected} school reported)",
        "Total ({reported} of {expected} schools reported)",
        counts.expected,
    ).format(reported=counts.submitted, expected=counts.expected)


def _counts_row(
    name: str, counts: Counts, results: dict[str, KeyTotalResult], kts: Sequence[KeyTotalDef]
) -> list[Cell]:
    return [
        name,
        counts.expected,
        counts.on_time,
        counts.late,
        counts.in_progress,
        counts.not_started,
        counts.reporting_rate,
        counts.on_time_rate,
        *(number(results[kt.code].value) if kt.code in results else None for kt in kts),
    ]


def _breakdowns(sheet: Sheet, _: Any, language: str, form: FormDef, totals: KeyTotals) -> None:
    """The breakdowns of key totals (by stage), with the target where the form gives
    one as a computed field named <key total>_target."""
    breakdowns = [
        kt for kt in form.key_totals if totals.overall.get(kt.code) and totals.overall[kt.code].by
    ]
    if not breakdowns:
        return
    sheet.rows(1)
    sheet.table([_("Key total"), _("Value"), _("Target")], 20)
    for kt in breakdowns:
        name = label(kt.label, language, kt.unit)
        for stage, value in totals.overall[kt.code].by.items():
            target = stage_target(form, kt.code, stage)
            sheet.row(
                [f"{name} · {form_stage_label(stage, language)}", number(value), number(target)],
                [PLAIN, ONE_DECIMAL, ONE_DECIMAL],
            )


# --- Missing ---------------------------------------------------------------------------


class _MissingSheet:
    """The schools that have not submitted, with who to call: a batch at a time."""

    def __init__(self, stack: ExitStack, book: Workbook, _: Any, language: str) -> None:
        columns = [
            *school_columns(_),
            (_("Stage"), 12),
            (_("Status"), 10),
            (_("Principal"), 14),
            (_("Reachable on Telegram"), 18),
            (_("Deputies and data clerks"), 24),
            # Only staff and the district's officers get a workbook (handlers/export.py).
            (_("School phone"), 16),
            (_("Principal's phone"), 16),
        ]
        self.sheet = open_table(stack, book, _("Missing"), columns)
        self.language = language
        self.yes, self.no, self.none = _("yes"), _("no (blocked the bot)"), _("nobody registered")
        self.blocked = _("{name} (blocked the bot)")

    async def add(self, session: AsyncSession, statuses: Sequence[SchoolStatus]) -> None:
        missing = [s for s in statuses if not s.status.submitted]
        contacts = await school_contacts(session, [s.school_id for s in missing])
        for s in missing:
            self.sheet.row(self._row(s, contacts.get(s.school_id, [])))

    def _row(self, s: SchoolStatus, people: Sequence[Contact]) -> list[Cell]:
        language = self.language
        principals = [p for p in people if p.role.value == "principal"]
        deputies = [p for p in people if p.role.value != "principal"]
        reach = self.none
        if principals:
            reach = self.yes if any(p.reachable for p in principals) else self.no
        phones = s.phones(people)
        return [
            s.code,
            s.name,
            s.district,
            form_stage_label(s.stage, language),
            status_label(s.status, language),
            "、".join(p.name for p in principals) or None,
            reach,
            "、".join(
                p.name if p.reachable else self.blocked.format(name=p.name) for p in deputies
            )
            or None,
            phones.school,
            phones.principal,
        ]


# --- Flagged ---------------------------------------------------------------------------


def _flags_sheet(
    book: Workbook, _: Any, language: str, form: FormDef, flags: Sequence[Flag]
) -> None:
    columns = [
        *school_columns(_),
        (_("Field"), 24),
        (_("Last period"), 12),
        (_("This period"), 12),
        (_("Change (%)"), 10),
        (_("Why flagged"), 36),
    ]
    lang = short(language)
    rows = (
        [
            f.school_code,
            f.school_name,
            f.district,
            form.field(f.field).label.get(lang) if form.has_field(f.field) else f.field,
            f.previous,
            f.value,
            f.change_percent if f.kind is FlagKind.CHANGED else None,
            flag_reason(f, language),
        ]
        for f in flags
    )
    write_table(book, _("Flagged"), columns, rows)
