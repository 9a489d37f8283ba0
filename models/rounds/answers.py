"""A submission's answers: one typed row per field (and group item) and revision.

Answers are committed as they are given (principle 1): revision WORKING (0) holds the
answers being entered, revision n the answers submitted as revision n. Each answer sets
exactly one typed column, so that SQL can sum and count them.

    load_answers(session, submission_id, revision, form) -> Answers
    save_answers(session, submission_id, form, changes, *, by, now) -> None
    save_answer(session, submission_id, form, key, value, *, by, now) -> None
        Commit answers as given; a None value deletes the answer.
    previous_answers(session, school_id, form, before) -> Answers
        The school's latest submitted answers to the same form code in an earlier
        round (field codes are stable across versions), top-level fields only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.forms import (
    ITEM_COUNT,
    ITEM_DONE,
    AnswerKey,
    Answers,
    FormDef,
    Value,
    carried_over,
    from_rows,
)
from models.rounds.inserts import insert_for
from models.rounds.tables import WORKING, Answer, Round, Submission

_VALUE_COLUMNS = ("value_int", "value_dec", "value_text", "value_date")


def typed_columns(form: FormDef, key: AnswerKey, value: Value) -> dict[str, Any]:
    """The typed column values of one answer (every value column, all but one None)."""
    cols: dict[str, Any] = dict.fromkeys(_VALUE_COLUMNS)
    code, item = key
    if item in (ITEM_COUNT, ITEM_DONE) and form.has_group(code):
        cols["value_int"] = int(value)  # type: ignore[arg-type]
        return cols
    f = form.field(code)
    if f.type == "integer":
        assert isinstance(value, int) and not isinstance(value, bool)
        cols["value_int"] = value
    elif f.type == "decimal":
        assert isinstance(value, int | Decimal)
        cols["value_dec"] = Decimal(value)
    elif f.type == "date":
        assert isinstance(value, date)
        cols["value_date"] = value
    elif f.type == "multi_choice":
        assert isinstance(value, list)
        cols["value_text"] = json.dumps(value, ensure_ascii=False)
    else:
        assert isinstance(value, str)
        cols["value_text"] = value
    return cols


def raw_value(row: Sequence[Any]) -> Any:
    """The one set value among (value_int, value_dec, value_text, value_date)."""
    for v in row:
        if v is not None:
            return v
    return None


def _answers_select() -> Any:
    a = Answer.__table__.c  # Core columns: plain rows, no ORM bookkeeping on a hot path
    return select(
        a.field, a.item, a.value_int, a.value_dec, a.value_text, a.value_date
    ).where(a.submission_id == bindparam("sid"), a.revision == bindparam("rev"))


_ANSWERS = _answers_select()


async def answer_rows(
    session: AsyncSession, submission_id: int, revision: int
) -> Sequence[Any]:
    """(field, item, value_int, value_dec, value_text, value_date) of one revision."""
    found = await session.execute(_ANSWERS, {"sid": submission_id, "rev": revision})
    return found.all()


def answers_from_rows(form: FormDef, rows: Iterable[Sequence[Any]]) -> Answers:
    return from_rows(form, ((r[0], r[1], raw_value(r[2:])) for r in rows))


async def load_answers(
    session: AsyncSession, submission_id: int, revision: int, form: FormDef
) -> Answers:
    rows = await answer_rows(session, submission_id, revision)
    return answers_from_rows(form, rows)


async def save_answers(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    changes: Mapping[AnswerKey, Value | None],
    *,
    by: int | None,
    now: datetime,
    revision: int = WORKING,
) -> None:
    """Write answers (upsert); a None value removes the answer."""
    gone = [k for k, v in changes.items() if v is None]
    rows = [
        {
            "submission_id": submission_id,
            "revision": revision,
            "field": code,
            "item": item,
            "answered_at": now,
            "answered_by": by,
            **typed_columns(form, (code, item), v),
        }
        for (code, item), v in changes.items()
        if v is not None
    ]
    for code, item in gone:
        await session.execute(
            delete(Answer).where(
                Answer.submission_id == submission_id,
                Answer.revision == revision,
                Answer.field == code,
                Answer.item == item,
            )
        )
    if rows:
        # One prepared statement with the rows as parameters: SQLAlchemy compiles it once
        # per process (a multi-row VALUES clause would be compiled on every answer).
        connection = await session.connection()
        await connection.execute(_answer_upsert(connection.dialect.name), rows)


_UPSERTS: dict[str, Any] = {}


def _answer_upsert(dialect: str) -> Any:
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        base = insert_for(dialect)(cast(Table, Answer.__table__))
        stmt = _UPSERTS[dialect] = base.on_conflict_do_update(
            index_elements=["submission_id", "revision", "field", "item"],
            set_={
                name: getattr(base.excluded, name)
                for name in (*_VALUE_COLUMNS, "answered_at", "answered_by")
            },
        )
    return stmt


async def save_answer(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    key: AnswerKey,
    value: Value | None,
    *,
    by: int | None,
    now: datetime,
) -> None:
    await save_answers(session, submission_id, form, {key: value}, by=by, now=now)


async def replace_working_answers(
    session: AsyncSession,
    submission_id: int,
    form: FormDef,
    answers: Mapping[AnswerKey, Value],
    *,
    by: int | None,
    now: datetime,
) -> None:
    """Replace every working answer (removing a group item renumbers the rest)."""
    await session.execute(
        delete(Answer).where(Answer.submission_id == submission_id, Answer.revision == WORKING)
    )
    await save_answers(session, submission_id, form, dict(answers), by=by, now=now)


async def previous_answers(
    session: AsyncSession, school_id: int, form: FormDef, before: Round
) -> Answers:
    found = (
        await session.execute(
            select(Submission.id, Submission.current_revision)
            .join(Round, Round.id == Submission.round_id)
            .where(
                Submission.school_id == school_id,
                Submission.current_revision > 0,
                Round.form_code == before.form_code,
                Round.id != before.id,
                Round.opened_at <= before.opened_at,
            )
            .order_by(Round.deadline.desc(), Round.id.desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return {}
    rows = await answer_rows(session, found[0], found[1])
    return carried_over(form, ((code, item, raw_value(values)) for code, item, *values in rows))
