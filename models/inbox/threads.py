"""The inbox's rules: who may see and answer a question, what a message changes, who is
told, and when an unanswered question is reminded.

A school has at most one thread that is not done: a new message from the school goes into
it (and reopens it when the bureau had answered), so the bureau reads a conversation, not
a pile of fragments. A thread marked done stays as it was; the school's next message
starts a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.base import inserted
from models.inbox.tables import Question, QuestionMessage, ThreadStatus
from models.roster.tables import District, Person, Role, School

SCHOOL_ROLES = (Role.PRINCIPAL.value, Role.DEPUTY.value)
STAFF_ROLES = (Role.STAFF.value, Role.ADMIN.value)


class InboxError(Exception):
    """A question that does not exist or is not the viewer's to see (both look the same,
    so a forged button learns nothing)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # "photo" or "document"
    file_id: str
    name: str | None = None

    def columns(self) -> dict[str, str | None]:
        """The QuestionMessage columns it fills."""
        return {"file_kind": self.kind, "file_id": self.file_id, "file_name": self.name}


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a thread, as people read it."""

    author: str
    from_school: bool
    text: str
    attachment: Attachment | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Thread:
    question: Question
    school: School
    district: District
    assigned_name: str | None
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Waiting:
    """A line of /inbox: a thread that is not done."""

    question_id: int
    school: str
    district: str
    status: ThreadStatus
    since: datetime
    last_text: str
    assigned_name: str | None


@dataclass(frozen=True, slots=True)
class Asked:
    question: Question
    new_thread: bool
    message_id: int


# --- who may see what ---------------------------------------------------------------------


def may_answer(person: Person, school: School) -> bool:
    """Staff answer every school; a district officer the schools of their district."""
    if person.role in STAFF_ROLES:
        return True
    return person.role == Role.DISTRICT_OFFICER.value and person.district_id == school.district_id


def asks_for(person: Person) -> int | None:
    """The school a principal or deputy asks for; None for anyone else."""
    return person.school_id if person.role in SCHOOL_ROLES else None


# --- writing ------------------------------------------------------------------------------


async def ask(
    session: AsyncSession, person: Person, text: str, attachment: Attachment | None = None,
    *, now: datetime,
) -> Asked:
    """A message from a school: into its thread that is not done, or a new one."""
    school_id = asks_for(person)
    if school_id is None:
        raise InboxError("only a principal or deputy asks for a school")
    question = (
        await session.execute(
            select(Question)
            .where(Question.school_id == school_id, Question.status != ThreadStatus.DONE.value)
            .order_by(Question.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    new_thread = question is None
    if question is None:
        question = Question(school_id=school_id, asked_by=person.id, created_at=now)
        session.add(question)
    if question.status != ThreadStatus.OPEN.value or question.waiting_since is None:
        question.waiting_since = now
        question.reminded_at = None
    question.status = ThreadStatus.OPEN.value
    question.updated_at = now
    await session.flush()
    line = await _add_line(session, question, person, True, text, attachment, now)
    record(session, "question.ask", question.id, actor_id=person.id, school_id=school_id,
           new_thread=new_thread)
    return Asked(question, new_thread, line.id)


async def answer(
    session: AsyncSession, question_id: int, person: Person, text: str, *, now: datetime
) -> tuple[Thread, int]:
    """The bureau's answer (the thread and the answer's id); the school no longer waits."""
    thread = await open_thread(session, question_id, person)
    question = thread.question
    question.status = ThreadStatus.ANSWERED.value
    question.waiting_since = None
    question.reminded_at = None
    question.updated_at = now
    line = await _add_line(session, question, person, False, text, None, now)
    record(session, "question.answer", question.id, actor_id=person.id, message_id=line.id)
    return thread, line.id


async def mark_done(
    session: AsyncSession, question_id: int, person: Person, *, now: datetime
) -> Thread:
    thread = await open_thread(session, question_id, person)
    thread.question.status = ThreadStatus.DONE.value
    thread.question.waiting_since = None
    thread.question.updated_at = now
    record(session, "question.done", question_id, actor_id=person.id)
    return thread


async def hand_over(
    session: AsyncSession, question_id: int, person: Person, colleague_id: int, *,
    now: datetime,
) -> tuple[Thread, Person]:
    """Give the thread to a colleague who may answer it: they are told, and reminded."""
    thread = await open_thread(session, question_id, person)
    colleague = await session.get(Person, colleague_id)
    if colleague is None or not may_answer(colleague, thread.school):
        raise InboxError("not a colleague who may answer this school")
    thread.question.assigned_to = colleague.id
    thread.question.updated_at = now
    record(session, "question.hand_over", question_id, actor_id=person.id, to=colleague.id)
    return thread, colleague


async def _add_line(
    session: AsyncSession, question: Question, person: Person, from_school: bool, text: str,
    attachment: Attachment | None, now: datetime,
) -> QuestionMessage:
    return await inserted(session, QuestionMessage(
        question_id=question.id, author_id=person.id, from_school=from_school, text=text,
        created_at=now, **(attachment.columns() if attachment else {}),
    ))


# --- reading ------------------------------------------------------------------------------


async def open_thread(session: AsyncSession, question_id: int, viewer: Person) -> Thread:
    """The thread with its messages, if the viewer may see it (staff, the school's district
    officer, or someone of that school); InboxError otherwise."""
    found = (
        await session.execute(
            select(Question, School, District)
            .join(School, School.id == Question.school_id)
            .join(District, District.id == School.district_id)
            .where(Question.id == question_id)
        )
    ).first()
    if found is None:
        raise InboxError("no such question")
    question, school, district = found
    if not (may_answer(viewer, school) or asks_for(viewer) == school.id):
        raise InboxError("not the viewer's question")
    return Thread(question, school, district, await _name(session, question.assigned_to),
                  await _lines(session, question.id))


async def school_thread(session: AsyncSession, person: Person) -> Thread | None:
    """The latest thread of the person's school, for /ask."""
    school_id = asks_for(person)
    if school_id is None:
        return None
    latest = (
        await session.execute(
            select(Question.id).where(Question.school_id == school_id)
            .order_by(Question.id.desc()).limit(1)
        )
    ).scalar_one_or_none()
    return None if latest is None else await open_thread(session, latest, person)


async def _lines(session: AsyncSession, question_id: int) -> tuple[Line, ...]:
    rows = (
        await session.execute(
            select(QuestionMessage, Person.name)
            .join(Person, Person.id == QuestionMessage.author_id)
            .where(QuestionMessage.question_id == question_id)
            .order_by(QuestionMessage.id)
        )
    ).all()
    return tuple(
        Line(name, m.from_school, m.text,
             Attachment(m.file_kind, m.file_id, m.file_name) if m.file_kind and m.file_id
             else None, m.created_at)
        for m, name in rows
    )


async def _name(session: AsyncSession, person_id: int | None) -> str | None:
    if person_id is None:
        return None
    person = await session.get(Person, person_id)
    return person.name if person else None


async def waiting(session: AsyncSession, viewer: Person) -> list[Waiting]:
    """The threads not done in the viewer's scope: those waiting for an answer first,
    oldest first, then those answered."""
    last = (
        select(QuestionMessage.question_id, func.max(QuestionMessage.id).label("last_id"))
        .group_by(QuestionMessage.question_id).subquery()
    )
    assignee = Person.__table__.alias("assignee")
    query = (
        select(Question, School.name, District.name, QuestionMessage.text, assignee.c.name)
        .join(School, School.id == Question.school_id)
        .join(District, District.id == School.district_id)
        .join(last, last.c.question_id == Question.id)
        .join(QuestionMessage, QuestionMessage.id == last.c.last_id)
        .outerjoin(assignee, assignee.c.id == Question.assigned_to)
        .where(Question.status != ThreadStatus.DONE.value)
        .order_by(case((Question.status == ThreadStatus.OPEN.value, 0), else_=1),
                  func.coalesce(Question.waiting_since, Question.updated_at), Question.id)
    )
    if viewer.role not in STAFF_ROLES:
        query = query.where(School.district_id == (viewer.district_id or -1))
    rows = (await session.execute(query)).all()
    return [
        Waiting(q.id, school, district, ThreadStatus(q.status),
                q.waiting_since or q.updated_at, text, assigned)
        for q, school, district, text, assigned in rows
    ]


async def done_count(session: AsyncSession, viewer: Person) -> int:
    query = (
        select(func.count(Question.id)).join(School, School.id == Question.school_id)
        .where(Question.status == ThreadStatus.DONE.value)
    )
    if viewer.role not in STAFF_ROLES:
        query = query.where(School.district_id == (viewer.district_id or -1))
    return int((await session.execute(query)).scalar_one())


# --- who is told --------------------------------------------------------------------------


async def school_people(session: AsyncSession, school_id: int) -> list[Person]:
    """Everyone who speaks for the school: its principal and deputies."""
    return list((await session.execute(
        select(Person).where(Person.school_id == school_id, Person.role.in_(SCHOOL_ROLES))
        .order_by(Person.id)
    )).scalars())


async def answerers(
    session: AsyncSession, school: School, assigned_to: int | None = None
) -> list[Person]:
    """Who is told of a school's message: the colleague it was handed to, or else all staff
    and the district officers of the school's district."""
    if assigned_to is not None:
        assigned = await session.get(Person, assigned_to)
        if assigned is not None and assigned.role != Role.NONE.value:
            return [assigned]
    return list((await session.execute(
        select(Person).where(or_(
            Person.role.in_(STAFF_ROLES),
            and_(Person.role == Role.DISTRICT_OFFICER.value,
                 Person.district_id == school.district_id),
        )).order_by(Person.id)
    )).scalars())


async def colleagues(session: AsyncSession, question_id: int, viewer: Person) -> list[Person]:
    """Who the viewer may hand the thread to: the others who may answer this school."""
    thread = await open_thread(session, question_id, viewer)
    people = await answerers(session, thread.school)
    return [p for p in people if p.id != viewer.id]


# --- the reminder -------------------------------------------------------------------------


def working_days_after(start: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`days` working days (Monday to Friday, in the bureau's time) after `start`: a question
    asked on Friday afternoon is due on Monday afternoon, not on Sunday."""
    local = start.astimezone(tz)
    if local.weekday() >= 5:  # asked at the weekend: counted from Monday morning
        local = (local + timedelta(days=7 - local.weekday())).replace(
            hour=8, minute=0, second=0, microsecond=0)
    left = days
    while left > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            left -= 1
    return local


async def due_reminders(
    session: AsyncSession, now: datetime, days: int, tz: ZoneInfo
) -> list[Question]:
    """Questions waiting longer than `days` working days and not reminded in this wait."""
    if days <= 0:
        return []
    candidates = (await session.execute(
        select(Question).where(Question.status == ThreadStatus.OPEN.value,
                               Question.waiting_since.is_not(None),
                               Question.reminded_at.is_(None),
                               Question.waiting_since <= now - timedelta(days=days))
        .order_by(Question.id)
    )).scalars()
    return [q for q in candidates
            if q.waiting_since is not None and working_days_after(q.waiting_since, days, tz) <= now]


# --- the export ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportRow:
    question_id: int
    district: str
    school_code: str
    school: str
    status: str
    at: datetime
    author: str
    from_school: bool
    text: str
    attachment: str


async def export_rows(session: AsyncSession) -> Sequence[ExportRow]:
    """Every message of every thread, thread by thread, for the CLI's workbook."""
    rows = (await session.execute(
        select(QuestionMessage, Question.status, Person.name, School.code, School.name,
               District.name)
        .join(Question, Question.id == QuestionMessage.question_id)
        .join(Person, Person.id == QuestionMessage.author_id)
        .join(School, School.id == Question.school_id)
        .join(District, District.id == School.district_id)
        .order_by(District.name, School.code, Question.id, QuestionMessage.id)
    )).all()
    return [
        ExportRow(m.question_id, district, code, school, status, m.created_at, author,
                  m.from_school, m.text, m.file_name or m.file_kind or "")
        for m, status, author, code, school, district in rows
    ]
