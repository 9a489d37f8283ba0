"""The workbook's Data sheet, one row per expected school with the figures it shows,
and one more sheet per repeatable group, one row per item."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.batches import in_districts
from models.followup.completeness import SchoolStatus, Status
from models.followup.keytotals import SchoolValues, latest_values
from models.forms import ComputedDef, FieldDef, FormDef, FormError, GroupDef, computed
from models.roster.tables import School
from models.rounds import Revision, Submission
from outputs.revisions_sheet import confirmed_warnings_text
from outputs.workbook_cells import (
    Batch,
    Column,
    cell,
    label,
    local,
    open_table,
    school_columns,
)
from outputs.xlsx import Cell, Sheet, Workbook
from texts.i18n import short
from texts.labels import form_stage_label, status_label

Shown = tuple[int, datetime, datetime]
"""The revision a school's figures shown are, when it was first submitted, and when
the figures shown were."""


@dataclass
class _Figures:
    """What the sheets show of each submitted school, built while streaming its
    answers; only the final cells are kept (a few MB for 20,000 schools)."""

    form: FormDef
    language: str
    cells: dict[int, list[Cell]] = field(default_factory=dict)
    items: dict[int, dict[str, list[list[Cell]]]] = field(default_factory=dict)

    def add(self, r: SchoolValues) -> None:
        form, answers, language = self.form, r.answers, self.language
        try:
            values = computed(form, answers, {"stage": r.stage})
        except FormError:
            values = {}
        row: list[Cell] = [cell(f, answers.get((f.code, 0)), language) for f in _top(form)]
        row += [cell(c, values.get(c.code), language) for c in form.computed]
        self.cells[r.school_id] = row
        for g in form.groups:
            count = answers.get((g.code, -1))
            n = count if isinstance(count, int) and not isinstance(count, bool) else 0
            if n:
                self.items.setdefault(r.school_id, {})[g.code] = [
                    [cell(f, answers.get((f.code, i)), language) for f in g.fields]
                    for i in range(n)
                ]


def _top(form: FormDef) -> list[FieldDef]:
    return [f for f in form.fields if f.group is None]


class DataSheets:
    """The Data sheet and one sheet per repeatable group, open side by side and written
    a batch of districts at a time (only one batch's figures are held)."""

    def __init__(
        self, stack: ExitStack, book: Workbook, _: Any, language: str, tz: ZoneInfo,
        form: FormDef, round_id: int,
    ) -> None:  # fmt: skip
        self.form, self.language, self.tz, self.round_id = form, language, tz, round_id
        self.fields: list[FieldDef | ComputedDef] = [*_top(form), *form.computed]
        columns = _data_columns(_, language, self.fields)
        self.data = open_table(stack, book, _("Data"), columns, freeze_cols=2)
        self.groups: list[tuple[GroupDef, Sheet]] = []
        for g in form.groups:
            name = g.label.get(short(language))
            self.groups.append((g, open_table(stack, book, name, _group_columns(_, g, language))))
        self.submitted = 0
        """How many schools' figures the Data sheet shows."""

    async def add(self, session: AsyncSession, batch: Batch) -> None:
        """The rows of the batch's schools."""
        form, language, statuses = self.form, self.language, batch.statuses
        figures = await _figures(session, form, self.round_id, batch.districts, language)
        revisions = await _shown_revisions(session, self.round_id, batch.districts)
        times = {school_id: (rev, first, last) for school_id, rev, first, last, _w in revisions}
        warned = {
            school_id: text
            for school_id, *_times, raw in revisions
            if (text := confirmed_warnings_text(raw, language)) is not None
        }
        width = len(self.fields)
        for row in _data_rows(statuses, figures.cells, times, warned, self.tz, language, width):
            self.data.row(row)
        for g, sheet in self.groups:
            for row in _group_rows(g, statuses, figures.items):
                sheet.row(row)
        self.submitted += sum(
            1 for s in statuses if s.status.submitted and s.school_id in figures.cells
        )


async def _figures(
    session: AsyncSession, form: FormDef, round_id: int, districts: list[int], language: str
) -> _Figures:
    figures = _Figures(form, language)
    returns = latest_values(session, form, round_id, districts)
    while True:
        try:
            r = await anext(returns)
        except StopAsyncIteration:
            break
        except FormError:
            # A stored value that does not fit the form: skip that school's figures
            # rather than stop the whole export (the Revisions sheet still lists it).
            continue
        figures.add(r)
    return figures


async def _shown_revisions(
    session: AsyncSession, round_id: int, districts: list[int]
) -> list[Any]:
    """Each submitted school's revision shown (of the schools in `districts`): its
    number, its times, and the warnings it was confirmed past with the principal's
    comment."""
    result = await session.execute(
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
        .join(School, School.id == Submission.school_id)
        .where(
            Submission.round_id == round_id,
            Submission.current_revision > 0,
            in_districts(districts),
        )
    )
    return list(result.all())


def _data_columns(_: Any, language: str, fields: Sequence[FieldDef | ComputedDef]) -> list[Column]:
    return [
        *school_columns(_),
        (_("Stage"), 16),
        (_("Status"), 12),
        (_("First submitted"), 17),
        (_("Figures submitted at"), 17),
        (_("Revision"), 8),
        *((label(f.label, language, f.unit), 14.0) for f in fields),
        (_("Warnings confirmed / comment"), 50.0),
    ]


def _data_rows(
    statuses: Sequence[SchoolStatus],
    cells: dict[int, list[Cell]],
    times: dict[int, Shown],
    warned: dict[int, str],
    tz: ZoneInfo,
    language: str,
    width: int,
) -> Iterator[list[Cell]]:
    blank: list[Cell] = [None] * width
    labels = {s: status_label(s, language) for s in Status}
    stages: dict[str, str] = {}
    for s in statuses:
        rev, first, last = times.get(s.school_id, (None, None, None))
        stage = stages.get(s.stage)
        if stage is None:
            stage = stages[s.stage] = form_stage_label(s.stage, language)
        submitted = s.status.submitted
        shown = cells.get(s.school_id) if submitted else None
        yield [
            s.code,
            s.name,
            s.district,
            stage,
            labels[s.status],
            local(first, tz) if submitted else None,
            local(last, tz) if submitted else None,
            rev if submitted else None,
            *(shown or blank),
            warned.get(s.school_id) if shown is not None else None,
        ]


def _group_columns(_: Any, g: GroupDef, language: str) -> list[Column]:
    return [
        *school_columns(_),
        (_("Item"), 6),
        *((label(f.label, language, f.unit), 14.0) for f in g.fields),
    ]


def _group_rows(
    g: GroupDef,
    statuses: Sequence[SchoolStatus],
    items: dict[int, dict[str, list[list[Cell]]]],
) -> Iterator[list[Cell]]:
    return (
        [s.code, s.name, s.district, i, *item]
        for s in statuses
        if s.status.submitted
        for i, item in enumerate(items.get(s.school_id, {}).get(g.code, []), 1)
    )
