"""Who is in which conversation (the `conversations` table, one row per person), with a
typed state per kind.

A conversation says where a person's plain text goes: to the report they are filling
in, or to the round set-up they are doing. Its state is JSON in the row; the kinds'
dataclasses below read and write it, keeping the keys rows already hold (a deploy
does not end the conversations in progress) and ignoring what they do not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Self, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.roster.tables import Person
from models.rounds.inserts import insert_for
from models.rounds.tables import Conversation


class Kind(StrEnum):
    REPORT = "report"
    """Filling in a school's report: typed text is an answer, a reason or a comment."""
    ROUND = "round"
    """A staff member's round set-up (or a new deadline, or a school to unlock)."""
    ASK = "ask"
    """Writing to the inbox: a school's question, or staff's answer to one (models/inbox)."""
    REVIEW = "review"
    """A reviewer typing the comment of a return (models/review)."""

    @classmethod
    def of(cls, stored: str | None) -> Kind | None:
        """The kind a row holds; None for no row (or a kind this version does not know,
        which then takes no text)."""
        try:
            return cls(stored) if stored is not None else None
        except ValueError:
            return None


def _load(text: str | None) -> dict[str, Any]:
    try:
        raw = json.loads(text or "{}")
    except ValueError:
        return {}
    return raw if isinstance(raw, dict) else {}


def _dump(values: dict[str, Any]) -> str:
    """JSON of the values that say something (None and empty ones left out)."""
    kept = {k: v for k, v in values.items() if v is not None and v != [] and v != ""}
    return json.dumps(kept, ensure_ascii=False)


# --- a report conversation ------------------------------------------------------------------


Awaiting = Literal["reason", "comment"]


@dataclass(frozen=True, slots=True)
class Ticked:
    """The choices ticked so far on a multiple-choice question (stored on Done)."""

    key: str
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportTalk:
    """The state of a report conversation (kind REPORT)."""

    awaiting: Awaiting | None = None
    """Typed text is the reason of a revision, or the comment on confirmed warnings
    (stored as "await"); None: an answer to the question shown."""
    then: Literal["submit"] | None = None
    """What follows the reason: "submit" when the reason was asked at Submit."""
    at: str | None = None
    """What the person was last shown (a question's key text, or "review"): a typed
    answer applies to that, not to where a colleague has moved the draft since."""
    ticked: Ticked | None = None

    @classmethod
    def from_json(cls, text: str | None) -> Self:
        raw = _load(text)
        waiting = raw.get("await")
        tick = raw.get("ticked")
        ticked = None
        if isinstance(tick, dict) and isinstance(tick.get("key"), str):
            ticked = Ticked(tick["key"], tuple(str(c) for c in tick.get("codes", [])))
        at = raw.get("at")
        return cls(
            awaiting=waiting if waiting in ("reason", "comment") else None,
            then="submit" if raw.get("then") == "submit" else None,
            at=at if isinstance(at, str) else None,
            ticked=ticked,
        )

    def to_json(self) -> str:
        tick = self.ticked
        return _dump({
            "await": self.awaiting,
            "then": self.then,
            "ticked": {"key": tick.key, "codes": list(tick.codes)} if tick else None,
            "at": self.at,
        })


# --- a round set-up --------------------------------------------------------------------------


class SetupStep(StrEnum):
    FORM = "form"
    PERIOD = "period"
    DEADLINE = "deadline"
    AUDIENCE = "audience"
    CONFIRM = "confirm"
    EXTEND = "extend"
    """A new deadline for round `round_id` is typed."""
    UNLOCK = "unlock"
    """A school to unlock in round `round_id` is typed."""


@dataclass(slots=True)
class RoundSetup:
    """The state of a staff member's round conversation (kind ROUND)."""

    step: SetupStep = SetupStep.FORM
    form: str = ""
    suggestions: list[str] = field(default_factory=list)
    """The periods offered as buttons (a button names one by its index)."""
    period: str = ""
    deadline: datetime | None = None
    districts: list[int] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    round_id: int = 0
    """The round a new deadline or an unlock is for (stored as "round")."""
    review: bool = False
    """District review toggled on in the confirmation (models/review)."""

    @classmethod
    def from_json(cls, text: str | None) -> Self:
        raw = _load(text)
        try:
            step = SetupStep(str(raw.get("step")))
        except ValueError:
            step = SetupStep.FORM  # nothing to type at: the buttons are asked for
        deadline = raw.get("deadline")
        return cls(
            step=step,
            form=str(raw.get("form") or ""),
            suggestions=[str(s) for s in raw.get("suggestions", [])],
            period=str(raw.get("period") or ""),
            deadline=datetime.fromisoformat(deadline) if isinstance(deadline, str) else None,
            districts=[int(d) for d in raw.get("districts", [])],
            stages=[str(s) for s in raw.get("stages", [])],
            round_id=int(raw.get("round") or 0),
            review=raw.get("review") is True,
        )

    def to_json(self) -> str:
        return _dump({
            "step": self.step.value,
            "form": self.form,
            "suggestions": self.suggestions,
            "period": self.period,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "districts": self.districts,
            "stages": self.stages,
            "round": self.round_id or None,
            "review": True if self.review else None,
        })


# --- writing to the inbox ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asking:
    """The state of an inbox conversation (kind ASK): the next message is a school's
    question (question_id 0), or staff's answer to question `question_id`. A message that
    nothing waited for may be kept as `offered` (text, and a file as kind, id and name),
    for the "send it to the bureau" button under the answer to it; such an offer is not
    waiting for a message."""

    question_id: int = 0
    offered: str = ""
    offered_file: tuple[str, str, str] | None = None

    @property
    def is_offer(self) -> bool:
        return bool(self.offered or self.offered_file)

    @classmethod
    def from_json(cls, text: str | None) -> Self:
        raw = _load(text)
        file = raw.get("file")
        try:
            return cls(
                question_id=int(raw.get("question") or 0),
                offered=str(raw.get("offered") or ""),
                offered_file=(str(file[0]), str(file[1]), str(file[2]))
                if isinstance(file, list) and len(file) == 3 else None,
            )
        except (TypeError, ValueError):
            return cls()

    def to_json(self) -> str:
        return _dump({"question": self.question_id or None, "offered": self.offered,
                      "file": list(self.offered_file) if self.offered_file else None})


# --- a district review's return ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reviewing:
    """The state of a review conversation (kind REVIEW): the next message is the comment
    returning review `review_id`, shown at `revision`."""

    review_id: int = 0
    revision: int = 0

    @classmethod
    def from_json(cls, text: str | None) -> Self:
        raw = _load(text)
        try:
            return cls(int(raw.get("review") or 0), int(raw.get("revision") or 0))
        except (TypeError, ValueError):
            return cls()

    def to_json(self) -> str:
        return _dump({"review": self.review_id or None, "revision": self.revision or None})


State = ReportTalk | RoundSetup | Asking | Reviewing


# --- the store ---------------------------------------------------------------------------------


async def set_conversation(
    session: AsyncSession,
    person_id: int,
    kind: Kind,
    submission_id: int | None,
    state: State,
    *,
    now: datetime,
) -> None:
    """Put the person in a conversation (replacing the one they were in)."""
    values = {
        "person_id": person_id,
        "kind": kind.value,
        "submission_id": submission_id,
        "state": state.to_json(),
        "updated_at": now,
    }
    stmt = insert_for(session.get_bind().dialect.name)(Conversation).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["person_id"],
        set_={
            k: getattr(stmt.excluded, k) for k in ("kind", "submission_id", "state", "updated_at")
        },
    )
    await session.execute(stmt)


_C = cast(Table, Conversation.__table__).c

_SAVE_STATE = (
    update(cast(Table, Conversation.__table__))
    .where(_C.person_id == bindparam("pid"))
    .values(state=bindparam("state"), updated_at=bindparam("now"))
)
"""Built once: the answer step writes the person's conversation state every time (what
they were shown), so it is a prepared Core statement like the step's other writes."""


async def save_state(session: AsyncSession, person_id: int, state: State, *, now: datetime) -> None:
    """The state of the conversation the person is in (its kind unchanged)."""
    await session.execute(_SAVE_STATE, {"pid": person_id, "state": state.to_json(), "now": now})


async def clear_conversation(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(Conversation).where(Conversation.person_id == person_id))


async def conversation_kind(session: AsyncSession, person_id: int) -> Kind | None:
    stored = (
        await session.execute(select(Conversation.kind).where(Conversation.person_id == person_id))
    ).scalar_one_or_none()
    return Kind.of(stored)


async def conversation_of(session: AsyncSession, telegram_id: int) -> Kind | None:
    """The kind of conversation the person with this Telegram id is in, if any."""
    stored = (
        await session.execute(
            select(Conversation.kind).join(Person, Person.id == Conversation.person_id)
            .where(Person.telegram_id == telegram_id)
        )
    ).scalar_one_or_none()
    return Kind.of(stored)


async def _state_of(session: AsyncSession, person_id: int, kind: Kind) -> str | None:
    """The stored state of the person's conversation if it is of this kind, else None."""
    row = (
        await session.execute(
            select(Conversation.kind, Conversation.state).where(Conversation.person_id == person_id)
        )
    ).first()
    return row[1] or "{}" if row is not None and Kind.of(row[0]) is kind else None


async def round_setup(session: AsyncSession, person_id: int) -> RoundSetup | None:
    """The person's round set-up; None when they are in no round conversation."""
    text = await _state_of(session, person_id, Kind.ROUND)
    return None if text is None else RoundSetup.from_json(text)


async def asking(session: AsyncSession, person_id: int) -> Asking | None:
    """The person's inbox conversation; None when they are in no inbox conversation."""
    text = await _state_of(session, person_id, Kind.ASK)
    return None if text is None else Asking.from_json(text)


async def reviewing(session: AsyncSession, person_id: int) -> Reviewing | None:
    """The person's review conversation; None when they are in none."""
    text = await _state_of(session, person_id, Kind.REVIEW)
    return None if text is None else Reviewing.from_json(text)
