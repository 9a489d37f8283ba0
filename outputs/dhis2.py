"""A round as a DHIS2 dataValueSets CSV (the column order DHIS2 imports).

dataelement = field code, period in DHIS2 notation, orgunit = school code, value; one
row per answered top-level field of each submitted school's latest revision (an
optional multiple choice answered "无" has no value and no row: DHIS2 refuses empty
values). Text values that a spreadsheet would take for a formula start with an
apostrophe (models/cells.py).
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from models.cells import inert
from models.followup.completeness import get_round
from models.followup.keytotals import SchoolReturn, latest_returns, round_form
from models.forms import FieldDef, FormDef, FormError, Value, from_rows
from models.roster.tables import School
from models.rounds import Revision, Submission

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
    period = _calendar_period(text) or _term_period(text)
    if period is None:
        raise ValueError(f"cannot express the period {label!r} in DHIS2 notation")
    return period


def _calendar_period(text: str) -> str | None:
    """A week, month, year, quarter or half-year, or None."""
    if m := re.fullmatch(r"(\d{4})-?W(\d{1,2})", text, re.IGNORECASE):
        week = int(m[2])
        if 1 <= week <= 53:
            return f"{m[1]}W{week}"
    if m := re.fullmatch(r"(\d{4})-?(\d{1,2})", text):
        month = int(m[2])
        if 1 <= month <= 12:
            return f"{m[1]}{month:02d}"
    if re.fullmatch(r"\d{4}", text) or re.fullmatch(r"\d{4}(Q[1-4]|S[12])", text):
        return text
    return None


def _term_period(text: str) -> str | None:
    """A school term as the six-monthly period it starts in, or None."""
    years = re.findall(r"\d{4}", text)
    if not years:
        return None
    if _AUTUMN.search(text):
        return f"{years[0]}S2"
    if _SPRING.search(text):
        return f"{years[-1] if len(years) > 1 else years[0]}S1"
    return None


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
    # A file is no data value (DHIS2 takes files as file resources uploaded apart): the
    # files go out with `huibao export --files`.
    top = [f.code for f in form.fields if f.group is None and f.type != "file"]
    codes = await _school_codes(session, round_id)
    updated = await _last_updated(session, round_id)
    combos = (
        settings.export.dhis2_category_option_combo,
        settings.export.dhis2_attribute_option_combo,
    )
    # CRLF, as RFC 4180 and Excel write it: the csv module quotes a field only for the
    # characters of its line terminator, so with "\n" a CR typed in an answer went out
    # unquoted and split the row in two for Excel and DHIS2.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DHIS2_COLUMNS)
    written = 0
    async for r in latest_returns(session, round_id, district_id, fields=top):
        org = inert(codes.get(r.submission_id) or "")
        rows = _data_values(form, r, pe, org, combos, updated.get(r.submission_id))
        writer.writerows(rows)
        written += len(rows)
    return written


async def _school_codes(session: AsyncSession, round_id: int) -> dict[int, str]:
    """Submission id -> school code, for the submitted schools."""
    result = await session.execute(
        select(Submission.id, School.code)
        .join(School, School.id == Submission.school_id)
        .where(Submission.round_id == round_id, Submission.current_revision > 0)
    )
    return {submission_id: value for submission_id, value in result.all()}


async def _last_updated(session: AsyncSession, round_id: int) -> dict[int, datetime]:
    """Submission id -> when its current revision was submitted."""
    result = await session.execute(
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
    return {submission_id: value for submission_id, value in result.all()}


def _data_values(
    form: FormDef,
    r: SchoolReturn,
    pe: str,
    org: str,
    combos: tuple[str, str],
    stamp: datetime | None,
) -> list[list[str]]:
    """One school's rows: a data value per answered top-level field."""
    try:
        answers = from_rows(form, r.rows)
    except FormError:
        return []
    coc, aoc = combos
    last = stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if stamp else ""
    rows = []
    for f in form.fields:
        value = answers.get((f.code, 0)) if f.group is None else None
        if value is None or f.type == "file":
            continue
        shown = _dhis2_value(f, value)
        if not shown:
            # An optional question answered "无" (none of the choices): a data value
            # without a value is refused by DHIS2's import (E7618), and none is meant.
            continue
        rows.append([f.code, pe, org, coc, aoc, shown, "huibao", last, "", ""])
    return rows
