"""The workbook's Revisions sheet: every submitted revision, who submitted it, why, what
changed, and the warnings confirmed with the principal's comment."""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.batches import Districts, in_districts
from models.followup.keytotals import raw_value
from models.forms import FormDef
from models.roster.order import school_key
from models.roster.tables import District, Person, School
from models.rounds import Answer, Revision, Submission
from outputs.workbook_cells import list_separator, local, open_table, school_columns
from outputs.xlsx import Workbook
from texts.i18n import gettext_for, short

RevisionKey = tuple[int, int]
"""(submission id, revision number)"""


class RevisionsSheet:
    """The Revisions sheet, written a batch of districts at a time (only one batch's
    revisions are held)."""

    def __init__(
        self, stack: ExitStack, book: Workbook, _: Any, language: str, tz: ZoneInfo,
        form: FormDef, round_id: int,
    ) -> None:  # fmt: skip
        self.language, self.tz, self.form, self.round_id = language, tz, form, round_id
        columns = [
            *school_columns(_),
            (_("Revision"), 8),
            (_("Submitted at"), 17),
            (_("On time"), 8),
            (_("Submitted by"), 12),
            (_("Reason for the revision"), 30),
            (_("Receipt number"), 14),
            (_("Fields changed"), 40),
            (_("Warnings confirmed / comment"), 50),
        ]
        self.sheet = open_table(stack, book, _("Revisions"), columns)
        self.yes, self.no = _("yes"), _("no")

    async def add(self, session: AsyncSession, districts: list[int]) -> None:
        """The revisions of the schools in `districts`, in reading order."""
        language, tz = self.language, self.tz
        rows = await _revisions(session, self.round_id, districts)
        changed = await changed_fields(session, self.form, self.round_id, districts, language)
        for code, name, district, sub_id, number, at, on_time, by, reason, ref, warned in rows:
            self.sheet.row(
                [
                    code,
                    name,
                    district,
                    number,
                    local(at, tz),
                    self.yes if on_time else self.no,
                    by,
                    reason or None,
                    ref,
                    changed.get((sub_id, number)),
                    confirmed_warnings_text(warned, language),
                ]
            )


async def _revisions(session: AsyncSession, round_id: int, district_id: Districts) -> list[Any]:
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
        .where(Submission.round_id == round_id)
        .order_by(District.name, School.code, Revision.number)
    )
    if district_id is not None:
        query = query.where(in_districts(district_id))
    rows = list((await session.execute(query)).all())
    # Schools in reading order (models.roster.order); a school's revisions in turn.
    rows.sort(key=lambda r: (school_key(r[2], r[1], r[0]), r[4]))
    return rows


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
        _add_once(messages, str(item.get("message") or item.get("rule") or "").strip())
        _add_once(comments, str(item.get("comment") or "").strip())
    if not messages and not comments:
        return None
    zh = short(language) == "zh"
    sep = "；" if zh else "; "
    # A message's own full stop would stand before the separator ("…核实。；…").
    messages = [m.rstrip("。；;.") if zh else m.rstrip("; ") for m in messages]
    if not comments:
        return sep.join(messages)
    return _("{warnings} — comment: {comment}").format(
        warnings=sep.join(messages), comment=sep.join(comments)
    )


def _add_once(texts: list[str], text: str) -> None:
    if text and text not in texts:
        texts.append(text)


async def changed_fields(
    session: AsyncSession, form: FormDef, round_id: int, district_id: Districts, language: str
) -> dict[RevisionKey, str]:
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
            in_districts(district_id)
        )
    by_rev: dict[RevisionKey, dict[tuple[str, int], object]] = {}
    for sid, rev, code, item, vi, vd, vt, vdate in (await session.execute(query)).all():
        by_rev.setdefault((sid, rev), {})[(code, item)] = raw_value(vi, vd, vt, vdate)
    out: dict[RevisionKey, str] = {}
    for (sid, rev), values in by_rev.items():
        before = by_rev.get((sid, rev - 1))
        if before is not None:
            out[(sid, rev)] = _changed_labels(form, values, before, language)
    return out


def _changed_labels(
    form: FormDef,
    values: dict[tuple[str, int], object],
    before: dict[tuple[str, int], object],
    language: str,
) -> str:
    """The labels of the fields and groups whose answers differ, in the order of their
    codes, each once."""
    codes: list[str] = []
    for key in sorted(set(values) | set(before)):
        if values.get(key) != before.get(key) and key[0] not in codes:
            codes.append(key[0])
    lang = short(language)
    labels = []
    for code in codes:
        if form.has_field(code):
            labels.append(form.field(code).label.get(lang))
        elif form.has_group(code):
            labels.append(form.group(code).label.get(lang))
    return list_separator(language).join(dict.fromkeys(labels))
