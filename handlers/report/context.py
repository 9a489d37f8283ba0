"""Everything one step of the report conversation needs, loaded in one query (Ctx)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, null, select, type_coerce, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update

from handlers.report_view import Rendered, parse_key
from models.conversations import Kind, ReportTalk
from models.forms import (
    REVIEW,
    AnswerKey,
    Answers,
    Context,
    FormDef,
    Position,
    Step,
    current_step,
    step_after,
)
from models.roster.tables import Person, Role, School
from models.rounds import (
    WORKING,
    Answer,
    Conversation,
    Round,
    RoundSchool,
    Submission,
    versions,
)
from models.rounds.answers import answers_from_rows
from models.rounds.draft_state import DraftState
from models.rounds.step_write import AnswerWrite
from texts.i18n import Gettext, Stated, gettext_for, language_of
from transport.context import Services

log = logging.getLogger("huibao.report")

T = TypeVar("T")

KIND_REPORT = Kind.REPORT
KIND_ROUND = Kind.ROUND
MAX_REASON = 500

# --- loading everything one step needs in one query -------------------------------------


@dataclass
class RoundRow:
    id: int
    form_code: str
    form_version: int
    period: str
    deadline: datetime
    grace_minutes: int
    lock_at: datetime | None
    status: str
    created_by: int | None


@dataclass
class Lock:
    unlocked_until: datetime | None


@dataclass
class Ctx:
    """A person, their conversation and (if any) the submission it points at."""

    person_id: int
    role: str
    person_school_id: int | None
    lang: str
    _: Gettext
    now: datetime
    """The step's time (services.now(), so that tests moving the clock are followed)."""
    conv_kind: Kind | None = None
    talk: ReportTalk = field(default_factory=ReportTalk)
    """The state of the person's report conversation (empty for another kind)."""
    conv_sub_id: int | None = None
    """The submission the person's conversation points at (not always `sub_id`: a
    button may name another report)."""
    sub_id: int | None = None
    school_id: int | None = None
    status: str = ""
    current_revision: int = 0
    position: str | None = None
    skipped: list[str] = field(default_factory=list)
    draft: DraftState = field(default_factory=DraftState)
    """The draft's own state (shared with the colleague): the walk, last period's values..."""
    round: RoundRow | None = None
    lock: Lock = field(default_factory=lambda: Lock(None))
    school_name: str = ""
    context: Context = field(default_factory=dict)
    form: FormDef | None = None
    answers: Answers = field(default_factory=dict)
    message_id: int | None = None
    """The Telegram message being answered, remembered so that a redelivered update
    (the bot died before Telegram heard it was handled) is not answered twice."""
    version: int = 0
    """The draft's version as read: every write of it is a compare-and-set on this."""
    shown: str | None = None
    """The question (key text) or REVIEW that the reply being built shows this person;
    kept in their conversation state (ReportTalk.at), so that their next typed answer applies
    to what they saw, not to where a colleague has moved the shared draft since."""
    file_mb: int = 10
    """The `[files] max_mb` setting: a file question's limit when its form gives none."""
    conv_stored: tuple[Kind | None, int | None, ReportTalk] = (None, None, ReportTalk())
    """The conversation as stored (kind, submission, state): the step writes it once at
    the end, and only if it changed."""
    defer_answer: bool = False
    """A typed answer's step: its one answer is written with the conversation at the end
    (sync_conversation), in one statement on PostgreSQL (models/rounds/step_write.py)."""
    pending: AnswerWrite | None = None
    """The answer and draft columns save_position left for sync_conversation to write."""

    @property
    def allowed(self) -> bool:
        """May this person fill this submission? (principal or deputy of its school)"""
        return (
            Role(self.role).is_school_contact
            and self.person_school_id is not None
            and self.person_school_id == self.school_id
        )

    # --- where the draft stands, as the forms engine (models/forms/walk.py) walks it ---

    @property
    def skipped_keys(self) -> frozenset[AnswerKey]:
        return frozenset(k for k in map(parse_key, self.skipped) if k is not None)

    @property
    def at(self) -> Position:
        """The draft's position: a question's key, the review, or not yet set."""
        return REVIEW if self.position == REVIEW else parse_key(self.position)

    def current(self, visible: list[Step]) -> Step | None:
        """The question the draft shows; None means the review screen."""
        return current_step(visible, self.answers, self.skipped_keys, self.at)

    def after(self, visible: list[Step], key: AnswerKey) -> Step | None:
        """Where the draft goes once `key` is answered (the walk moves on with it)."""
        draft = self.draft
        nxt, draft.walk = step_after(visible, self.answers, self.skipped_keys, key, draft.walk)
        return nxt


# The hot path's query is Core over the tables (not ORM entities): it returns plain rows
# and skips the ORM's per-statement bookkeeping, which costs more than the query itself.
_PT, _CT, _ST, _RT, _RST, _SCT, _AT = (
    m.__table__ for m in (Person, Conversation, Submission, Round, RoundSchool, School, Answer)
)
_P, _C, _S, _R, _RS, _SC, _A = (t.c for t in (_PT, _CT, _ST, _RT, _RST, _SCT, _AT))
_CTX_COLUMNS = (
    _P.id,
    _P.role,
    _P.school_id,
    _P.language,
    _P.telegram_language,
    _P.name,
    _P.username,
    _P.reachable,
    _C.kind,
    _C.state,
    _C.submission_id,
    _S.id,
    _S.school_id,
    _S.status,
    _S.current_revision,
    _S.position,
    _S.skipped,
    _S.state,
    _S.version,
    _R.id,
    _R.form_code,
    _R.form_version,
    _R.period,
    _R.deadline,
    _R.grace_minutes,
    _R.lock_at,
    _R.status,
    _R.created_by,
    _RS.unlocked_until,
    _SC.name,
    _SC.stage,
    _SC.district_id,
)
_ANSWER_COLUMNS = (_A.field, _A.item, _A.value_int, _A.value_dec, _A.value_text, _A.value_date)
_CTX_WIDTH = len(_CTX_COLUMNS)


def _ctx_query(pointed: bool, with_answers: bool) -> Any:
    """The person and their submission: the one their conversation points at (`pointed`),
    or the one given as the `sid` parameter. Built once: bound parameters, not values.

    `with_answers`: the draft's working answers come in the same trip to the database,
    one row each after the person's row, its columns empty there (and the answer's
    columns empty in the person's row). Repeating the person's 32 columns on every answer
    row cost more than the rest of the query: each value is converted on its way out,
    datetimes parsed from text on SQLite."""
    sub_on = _S.id == (_C.submission_id if pointed else bindparam("sid"))
    joined = (
        _PT
        .outerjoin(_CT, _C.person_id == _P.id)
        .outerjoin(_ST, sub_on)
        .outerjoin(_RT, _R.id == _S.round_id)
        .outerjoin(
            _RST,
            and_(_RS.round_id == _S.round_id, _RS.school_id == _S.school_id),
        )
        .outerjoin(_SCT, _SC.id == _S.school_id)
    )
    person = _P.telegram_id == bindparam("tid")
    if not with_answers:
        return select(*_CTX_COLUMNS).select_from(joined).where(person)
    working = _A.revision == WORKING
    if pointed:
        answers = (
            select(*_blank(_CTX_COLUMNS), *_ANSWER_COLUMNS)
            .select_from(_PT.join(_CT, _C.person_id == _P.id))
            .join(_AT, and_(_A.submission_id == _C.submission_id, working))
            .where(person)
        )
    else:
        answers = select(*_blank(_CTX_COLUMNS), *_ANSWER_COLUMNS).where(
            _A.submission_id == bindparam("sid"), working
        )
    first = select(*_CTX_COLUMNS, *_blank(_ANSWER_COLUMNS)).select_from(joined).where(person)
    return union_all(first, answers)


def _blank(columns: tuple[Any, ...]) -> list[Any]:
    """Empty values of the columns' types (a union's columns take the first row's)."""
    return [type_coerce(null(), c.type).label(f"blank_{c.table.name}_{c.name}") for c in columns]


_CTX_QUERIES = {
    (pointed, answers): _ctx_query(pointed, answers)
    for pointed in (True, False)
    for answers in (True, False)
}


async def load_ctx(
    session: AsyncSession,
    services: Services,
    update: Update,
    submission_id: int | None = None,
    *,
    with_answers: bool = True,
) -> Ctx | None:
    """Everything about the sender and their submission (the pointed-at one, or
    `submission_id`); None for someone who never talked to the bot."""
    user = update.effective_user
    assert user is not None
    query = _CTX_QUERIES[(submission_id is None, with_answers)]
    params: dict[str, int] = {"tid": user.id}
    if submission_id is not None:
        params["sid"] = submission_id
    rows = (await session.execute(query, params)).all()
    # The person's row is the one whose first column (their id) is given.
    row = next((r[:_CTX_WIDTH] for r in rows if r[0] is not None), None)
    if row is None:
        return None
    (
        pid, role, pschool, plang, tlang, name, username, reachable,
        ckind, cstate, csub,
        sid, sschool, sstatus, scur, spos, sskipped, sstate, sversion,
        rid, fcode, fver, period, deadline, grace, lock_at, rstatus, created_by,
        unlocked, school_name, stage, district,
    ) = row  # fmt: skip
    if (name, username, tlang, reachable) != (
        user.full_name,
        user.username,
        user.language_code,
        True,
    ):
        # Principle 6 re-reads the person every time; keep their details fresh too.
        await session.execute(update_person(pid, user.full_name, user.username, user.language_code))
    lang = language_of(Stated(plang), services.settings.bureau.default_language, user.language_code)
    ctx = Ctx(pid, role, pschool, lang, gettext_for(lang), services.now())
    ctx.file_mb = services.settings.files.max_mb
    kind = Kind.of(ckind)
    talk = ReportTalk.from_json(cstate) if kind is Kind.REPORT else ReportTalk()
    # The conversation as read is the one stored: sync_conversation writes what changes.
    ctx.conv_kind, ctx.conv_sub_id, ctx.talk = kind, csub, talk
    ctx.conv_stored = (kind, csub, talk)
    if sid is None:
        return ctx
    ctx.sub_id, ctx.school_id, ctx.status, ctx.current_revision = sid, sschool, sstatus, scur
    ctx.position = spos
    ctx.version = sversion
    ctx.skipped = json.loads(sskipped or "[]")
    ctx.draft = DraftState.from_json(sstate)
    ctx.round = RoundRow(rid, fcode, fver, period, deadline, grace, lock_at, rstatus, created_by)
    ctx.lock = Lock(unlocked)
    ctx.school_name = school_name
    ctx.context = {"stage": stage, "district": district}
    if with_answers and ctx.allowed:
        ctx.form = await versions.form_version(session, fcode, fver)
        answers = (r[_CTX_WIDTH:] for r in rows if r[0] is None)
        ctx.answers = answers_from_rows(ctx.form, answers)
    return ctx


def update_person(pid: int, name: str, username: str | None, tlang: str | None) -> Any:
    return (
        update(Person)
        .where(Person.id == pid)
        .values(name=name, username=username, telegram_language=tlang, reachable=True)
    )


ButtonResult = tuple[str | None, Rendered | None, InlineKeyboardMarkup | None]
