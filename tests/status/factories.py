"""Build rounds, schools, people, submissions and answers directly in the database.

Reusable by any test that needs a round in a known state without walking the report
conversation: rows are inserted as the report service would leave them (a submitted
revision holds the form's clean answers; revision 0 holds the working draft).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.forms import ITEM_COUNT, ITEM_DONE, Answers, FormDef, Value, clean, load_form
from models.roster.tables import District, Person, Role, School
from models.rounds import (
    WORKING,
    Answer,
    FormVersion,
    Revision,
    Round,
    RoundSchool,
    RoundStatus,
    Submission,
    SubmissionStatus,
)

FORMS = Path(__file__).resolve().parents[2] / "forms"


def real_form(code: str) -> FormDef:
    return load_form(FORMS / f"{code}.toml")


def answer_columns(form: FormDef, key: tuple[str, int], value: Value) -> dict[str, Any]:
    """The typed column an answer is stored in (see models.rounds.Answer)."""
    code, item = key
    if item in (ITEM_COUNT, ITEM_DONE) and form.has_group(code):
        return {"value_int": int(value)}  # type: ignore[arg-type]
    ftype = form.field(code).type
    if ftype == "integer":
        return {"value_int": value}
    if ftype == "decimal":
        return {"value_dec": Decimal(value)}  # type: ignore[arg-type]
    if ftype == "date":
        return {"value_date": value}
    if ftype == "multi_choice":
        return {"value_text": json.dumps(value)}
    return {"value_text": value}


def _source(form: FormDef) -> str:
    return Path(form.source).read_text(encoding="utf-8") if form.source else ""


class Factory:
    """Insert rows through one session; flushes so ids are known at once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    async def district(self, name: str | None = None) -> District:
        d = District(name=name or f"学区{self._next()}")
        self.session.add(d)
        await self.session.flush()
        return d

    async def school(
        self,
        district: District,
        name: str | None = None,
        stage: str = "primary",
        code: str | None = None,
    ) -> School:
        n = self._next()
        s = School(
            code=code or f"S{n:05d}",
            name=name or f"第{n}小学",
            district_id=district.id,
            stage=stage,
        )
        self.session.add(s)
        await self.session.flush()
        return s

    async def person(
        self,
        role: Role,
        name: str | None = None,
        school: School | None = None,
        district: District | None = None,
        language: str | None = None,
        reachable: bool = True,
        telegram_id: int | None = None,
    ) -> Person:
        n = self._next()
        p = Person(
            telegram_id=telegram_id or 10_000 + n,
            name=name or f"Person {n}",
            role=role.value,
            school_id=school.id if school else None,
            district_id=district.id if district else None,
            language=language,
            reachable=reachable,
        )
        self.session.add(p)
        await self.session.flush()
        return p

    async def form_version(self, form: FormDef) -> FormVersion:
        existing = await self.session.scalar(
            select(FormVersion).where(
                FormVersion.code == form.code, FormVersion.version == form.version
            )
        )
        if existing is not None:
            return existing
        source = _source(form)
        fv = FormVersion(code=form.code, version=form.version, source=source)
        self.session.add(fv)
        await self.session.flush()
        return fv

    async def round(
        self,
        form: FormDef,
        schools: list[School],
        deadline: datetime,
        period: str = "2026",
        grace_minutes: int = 0,
        status: RoundStatus = RoundStatus.OPEN,
        opened_at: datetime | None = None,
    ) -> Round:
        await self.form_version(form)
        r = Round(
            form_code=form.code,
            form_version=form.version,
            period=period,
            deadline=deadline,
            grace_minutes=grace_minutes,
            status=status.value,
            opened_at=opened_at or deadline - timedelta(days=14),
        )
        self.session.add(r)
        await self.session.flush()
        self.session.add_all(RoundSchool(round_id=r.id, school_id=s.id) for s in schools)
        await self.session.flush()
        return r

    async def _submission(self, rnd: Round, school: School) -> Submission:
        sub = await self.session.scalar(
            select(Submission).where(
                Submission.round_id == rnd.id, Submission.school_id == school.id
            )
        )
        if sub is None:
            sub = Submission(
                round_id=rnd.id,
                school_id=school.id,
                status=SubmissionStatus.NOT_STARTED.value,
                started_at=rnd.opened_at,
            )
            self.session.add(sub)
            await self.session.flush()
        return sub

    def _answers(
        self, form: FormDef, sub: Submission, revision: int, answers: Answers, at: datetime
    ) -> None:
        for key, value in answers.items():
            self.session.add(
                Answer(
                    submission_id=sub.id,
                    revision=revision,
                    field=key[0],
                    item=key[1],
                    answered_at=at,
                    **answer_columns(form, key, value),
                )
            )

    async def draft(
        self, rnd: Round, school: School, form: FormDef, answers: Answers, at: datetime
    ) -> Submission:
        """Working answers of a school that has not submitted (yet)."""
        sub = await self._submission(rnd, school)
        self._answers(form, sub, WORKING, answers, at)
        if sub.current_revision == 0:
            sub.status = SubmissionStatus.DRAFT.value
        else:
            sub.status = SubmissionStatus.REVISING.value
        await self.session.flush()
        return sub

    async def submit(
        self,
        rnd: Round,
        school: School,
        form: FormDef,
        answers: Answers,
        at: datetime,
        reason: str = "",
        by: Person | None = None,
        context: dict[str, Value | None] | None = None,
    ) -> Submission:
        """Submit (or revise) with these answers at time `at`: a new numbered revision."""
        sub = await self._submission(rnd, school)
        kept = clean(form, answers, context or {"stage": school.stage})
        number = sub.current_revision + 1
        cutoff = rnd.deadline + timedelta(minutes=rnd.grace_minutes)
        first = sub.first_submitted_at or at
        self.session.add(
            Revision(
                submission_id=sub.id,
                number=number,
                submitted_at=at,
                submitted_by=by.id if by else None,
                on_time=first <= cutoff,
                reason=reason,
                reference=uuid.uuid4().hex[:12].upper(),
            )
        )
        self._answers(form, sub, number, kept, at)
        sub.current_revision = number
        sub.status = SubmissionStatus.SUBMITTED.value
        sub.first_submitted_at = first
        sub.last_submitted_at = at
        await self.session.flush()
        return sub

    async def submit_many(
        self, rnd: Round, schools: list[School], form: FormDef, answers: Answers, at: datetime
    ) -> None:
        """Many schools submit the same answers at once (bulk inserts, for big rounds)."""
        cutoff = rnd.deadline + timedelta(minutes=rnd.grace_minutes)
        await self.session.execute(
            insert(Submission),
            [
                {
                    "round_id": rnd.id,
                    "school_id": school.id,
                    "status": SubmissionStatus.SUBMITTED.value,
                    "current_revision": 1,
                    "first_submitted_at": at,
                    "last_submitted_at": at,
                    "started_at": at,
                }
                for school in schools
            ],
        )
        ids = list(
            await self.session.scalars(
                select(Submission.id).where(
                    Submission.round_id == rnd.id,
                    Submission.school_id.in_([s.id for s in schools]),
                )
            )
        )
        await self.session.execute(
            insert(Revision),
            [
                {
                    "submission_id": i,
                    "number": 1,
                    "submitted_at": at,
                    "on_time": at <= cutoff,
                    "reference": uuid.uuid4().hex[:12].upper(),
                }
                for i in ids
            ],
        )
        kept = clean(form, answers, {"stage": schools[0].stage})
        await self.session.execute(
            insert(Answer),
            [
                {
                    "submission_id": i,
                    "revision": 1,
                    "field": key[0],
                    "item": key[1],
                    "answered_at": at,
                    **answer_columns(form, key, value),
                }
                for i in ids
                for key, value in kept.items()
            ],
        )


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A UTC time in November 2026, for readable test timelines."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def staffing_answers(
    authorized: int = 48,
    payroll: int = 45,
    degrees: tuple[int, int, int, int] = (0, 18, 22, 2),
    new_hires: int = 0,
    substitutes: int = 2,
) -> Answers:
    """A staffing return that passes the form's rules."""
    pg, ba, co, below = degrees
    teachers = pg + ba + co + below
    out: Answers = {
        ("authorized_posts", 0): authorized,
        ("on_payroll", 0): payroll,
        ("full_time_teachers", 0): teachers,
        ("degree_postgraduate", 0): pg,
        ("degree_bachelor", 0): ba,
        ("degree_college", 0): co,
        ("degree_below_college", 0): below,
        ("new_hires_total", 0): new_hires,
        ("key_teachers", 0): min(3, teachers),
        ("subject_leaders", 0): min(1, teachers),
        ("famous_teachers", 0): 0,
        ("substitute_teachers", 0): substitutes,
        ("rural_exchange", 0): 1,
        ("shortage_subjects", 0): ["english", "pe"],
    }
    if new_hires:
        out[("new_hires_open_exam", 0)] = new_hires
        out[("new_hires_special_post", 0)] = 0
        out[("new_hires_free_normal", 0)] = 0
    return out


def random_answers(form: FormDef, rng: random.Random, stage: str, cap: int = 300) -> Answers:
    """A complete return for any form, walked question by question like a principal
    would (values are random within the field's bounds; rules are not enforced)."""
    from models.forms import add_item, finish_group, next_step

    answers: Answers = {}
    context: dict[str, Value | None] = {"stage": stage}
    for _ in range(2000):
        step = next_step(form, answers, context)
        if step is None:
            return answers
        if step.kind == "add_item":
            assert step.group is not None
            more = step.item is not None and step.item < rng.choice((0, 1, 2, 3, 5))
            rows = (add_item if more else finish_group)(form, answers, step.group.code)
            answers.update(rows)
            continue
        f = step.field
        assert f is not None
        answers[step.key] = _random_value(f, rng, cap)
    raise AssertionError("form never finished")


def _random_value(f: Any, rng: random.Random, cap: int) -> Value:
    lo = f.min if isinstance(f.min, int | Decimal) else 0
    hi = f.max if isinstance(f.max, int | Decimal) else cap
    hi = min(hi, lo + cap)
    if f.type == "integer":
        return rng.randint(int(lo), int(hi))
    if f.type == "decimal":
        places = f.decimals if f.decimals is not None else 2
        return Decimal(rng.randint(int(lo) * 10**places, int(hi) * 10**places)).scaleb(-places)
    if f.type == "choice":
        return str(rng.choice(f.choices).code)
    if f.type == "multi_choice":
        return [c.code for c in f.choices if rng.random() < 0.3]
    if f.type == "date":
        return date(2026, 9, 1) + timedelta(days=rng.randint(0, 90))
    return "备注"
