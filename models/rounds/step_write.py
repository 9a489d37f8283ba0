"""A typed answer's writes, in one trip to PostgreSQL.

An answer step writes three rows: the draft (its position and state, a compare-and-set
on its version), the answer, and the person's conversation state (what they were shown).
On PostgreSQL they go as one statement: the draft's UPDATE and the conversation's are
data-modifying CTEs of the answer's INSERT, and the answer and the conversation are only
written when the draft's compare-and-set took the row, so a draft a colleague moved
meanwhile still writes nothing (DraftMoved). That is two round trips fewer per answer on
a server a network away (bench/report_step.py). On SQLite, whose statements cost no
network trip, they are the three statements they always were.

    write_answer(session, form, step, talk) -> int    the draft's new version
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.conversations import ReportTalk, save_state
from models.forms import AnswerKey, FormDef, Value
from models.rounds.answers import typed_columns
from models.rounds.errors import DraftMoved
from models.rounds.submissions import save_step
from models.rounds.tables import WORKING, Answer, Conversation, Submission


@dataclass(frozen=True)
class AnswerWrite:
    """One answer and where the draft stands after it, to be written if the draft is
    still at `version` (the version read)."""

    submission_id: int
    version: int
    columns: dict[str, Any]
    """The draft's conversation columns: position, skipped, state, status."""
    key: AnswerKey
    value: Value
    by: int | None
    now: datetime


@dataclass(frozen=True)
class TalkWrite:
    """The person's report conversation's new state (its kind and report unchanged)."""

    person_id: int
    talk: ReportTalk


async def write_answer(
    session: AsyncSession, form: FormDef, step: AnswerWrite, talk: TalkWrite | None
) -> int:
    """The draft, the answer and (if given) the conversation state; DraftMoved (nothing
    written) if a colleague changed the draft since it was read. Returns the new version."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        version = await save_step(
            session, step.submission_id, form, {step.key: step.value},
            version=step.version, by=step.by, now=step.now, **step.columns,
        )
        if talk is not None:
            await save_state(session, talk.person_id, talk.talk, now=step.now)
        return version
    code, item = step.key
    params: dict[str, Any] = {
        "sid": step.submission_id,
        "expected": step.version,
        "updated_at": step.now,
        **step.columns,
        "a_field": code,
        "a_item": item,
        "a_by": step.by,
        **{f"a_{name}": value for name, value in typed_columns(form, step.key, step.value).items()},
    }
    if talk is not None:
        params |= {"c_pid": talk.person_id, "c_state": talk.talk.to_json()}
    statement = _combined(frozenset(step.columns), talk is not None)
    result = await connection.execute(statement, params)
    if cast(Any, result).rowcount != 1:
        raise DraftMoved(step.submission_id)
    return step.version + 1


_VALUES = ("value_int", "value_dec", "value_text", "value_date")
_STATEMENTS: dict[tuple[frozenset[str], bool], Any] = {}


def _combined(columns: frozenset[str], with_talk: bool) -> Any:
    """WITH moved AS (UPDATE submissions ... WHERE version = :expected RETURNING id)
    [, talked AS (UPDATE conversations ... WHERE EXISTS (SELECT FROM moved))]
    INSERT INTO answers SELECT moved.id, ... FROM moved ON CONFLICT DO UPDATE.
    Built once per shape (SQLAlchemy then compiles it once, asyncpg prepares it once)."""
    found = _STATEMENTS.get((columns, with_talk))
    if found is not None:
        return found
    sub = cast(Table, Submission.__table__)
    ans = cast(Table, Answer.__table__)
    conv = cast(Table, Conversation.__table__)
    moved = (
        update(sub)
        .where(sub.c.id == bindparam("sid"), sub.c.version == bindparam("expected"))
        .values(
            {name: bindparam(name) for name in (*sorted(columns), "updated_at")}
            | {"version": sub.c.version + 1}
        )
        .returning(sub.c.id)
        .cte("moved")
    )
    row = select(
        moved.c.id,
        literal(WORKING),
        bindparam("a_field", type_=ans.c.field.type),
        bindparam("a_item", type_=ans.c.item.type),
        bindparam("updated_at", type_=ans.c.answered_at.type),
        bindparam("a_by", type_=ans.c.answered_by.type),
        *(bindparam(f"a_{name}", type_=ans.c[name].type) for name in _VALUES),
    )
    insert = pg_insert(ans).from_select(
        ["submission_id", "revision", "field", "item", "answered_at", "answered_by", *_VALUES],
        row,
    )
    statement = insert.on_conflict_do_update(
        index_elements=["submission_id", "revision", "field", "item"],
        set_={
            name: getattr(insert.excluded, name)
            for name in (*_VALUES, "answered_at", "answered_by")
        },
    ).add_cte(moved)
    if with_talk:
        talked = (
            update(conv)
            .where(conv.c.person_id == bindparam("c_pid"), exists(select(moved.c.id)))
            .values(state=bindparam("c_state"), updated_at=bindparam("updated_at"))
            .returning(conv.c.person_id)
            .cte("talked")
        )
        statement = statement.add_cte(talked)
    _STATEMENTS[(columns, with_talk)] = statement
    return statement
