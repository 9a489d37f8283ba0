"""The guided report conversation: a principal (or deputy) answers a round's form one
question at a time, reviews, submits, and may revise before the lock.

State lives in the database (principle 1): the current question is the submission's
`position` (shared by the school's principal and deputy), each answer is committed as it
is given, and `conversations` says which report a person's plain text goes to. A bot
killed at any moment continues at the same question with every earlier answer kept.

Plain text is routed in handler group TEXT_GROUP (before the default group 0): if the
person is in a conversation (a report, or staff setting up a round) the text is taken
and handling stops (ApplicationHandlerStop); otherwise it passes on untouched to later
groups, e.g. onboarding's invitation-code handler. A person in a conversation who types
something that looks like an invitation code is the only exception: see
`looks_like_other_input`.

The answer step (text in, answer checked, committed, next question out) is the hot path:
one query loads person, conversation, submission, round, school and lock together, one
loads the answers, one updates the submission (compare-and-set on its version, which
also locks it), one upserts the answer and one stores what the person is shown now, in
one transaction, with the form parsed once per process.

The principal and the deputy share one draft (issue 9): each person's conversation
state records the question they were last shown ("at"); a typed answer applies to that
question, and if a colleague has moved the draft on since, nothing is stored and the
person is shown where it stands now. Every write of the draft names the version it read
(rs.DraftMoved if another write came first): the step is then done again from the
start in a new transaction (`retrying`), so two people, or two processes, never lose
or misfile an answer. A refused button (another school's, an old or a forged one) is
answered with an alert and changes nothing of the presser's own conversation. No Bot
API call is made inside a transaction: replies are built inside, sent after the commit.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from handlers import menu
from handlers import report_view as view
from handlers.context import Who, unit
from handlers.report_view import REVIEW, Rendered, cb, key_text, key_token, parse_key
from models.base import utcnow
from models.forms import (
    ITEM_DONE,
    AnswerKey,
    Answers,
    Context,
    FormDef,
    ParseError,
    RuleResult,
    Step,
    Value,
    add_item,
    computed,
    dump_value,
    finish_group,
    load_value,
    parse_answer,
    parse_yes_no,
    remove_item,
    steps,
    validate,
)
from models.roster.tables import Person, Role, School
from models.rounds import (
    WORKING,
    Conversation,
    Round,
    RoundSchool,
    RoundStatus,
    Submission,
    SubmissionStatus,
    versions,
)
from models.rounds.answers import answer_rows, answers_from_rows, previous_answers
from models.rounds.errors import DraftMoved, SubmitRefused
from models.rounds.inserts import insert_for
from models.rounds.lifecycle import get_round_school
from models.rounds.locks import (
    is_locked,
    lock_time,
    revisable_until,
    unlocked_end,
)
from models.rounds.periods import period_label
from models.rounds.revisions import begin_revision, revisions_of, submit
from models.rounds.submissions import (
    Report,
    claim_draft,
    get_or_create_submission,
    pending_for_person,
    reports_for_school,
    save_step,
    touch_submission,
)
from models.rounds.versions import round_form
from texts.i18n import N_, Gettext, choose_language, gettext_for
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger("huibao.report")

T = TypeVar("T")

TEXT_GROUP = -10
"""Handler group of the conversation's plain-text handler (before group 0)."""
KIND_REPORT = "report"
KIND_ROUND = "round"
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
    conv_kind: str | None
    conv_state: dict[str, Any]
    conv_sub_id: int | None = None
    """The submission the person's conversation points at (not always `sub_id`: a
    button may name another report)."""
    sub_id: int | None = None
    school_id: int | None = None
    status: str = ""
    current_revision: int = 0
    position: str | None = None
    skipped: list[str] = field(default_factory=list)
    sub_state: dict[str, Any] = field(default_factory=dict)
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
    kept in their conversation state as "at", so that their next typed answer applies
    to what they saw, not to where a colleague has moved the shared draft since."""
    conv_stored: tuple[str | None, int | None, str] = (None, None, "{}")
    """The conversation as stored (kind, submission, state JSON): the step writes it
    once at the end, and only if it changed."""

    @property
    def allowed(self) -> bool:
        """May this person fill this submission? (principal or deputy of its school)"""
        return (
            Role(self.role).is_school_contact
            and self.person_school_id is not None
            and self.person_school_id == self.school_id
        )


# The hot path's query is Core over the tables (not ORM entities): it returns plain rows
# and skips the ORM's per-statement bookkeeping, which costs more than the query itself.
_PT, _CT, _ST, _RT, _RST, _SCT = (
    m.__table__ for m in (Person, Conversation, Submission, Round, RoundSchool, School)
)
_P, _C, _S, _R, _RS, _SC = (t.c for t in (_PT, _CT, _ST, _RT, _RST, _SCT))
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


def _ctx_query(pointed: bool) -> Any:
    """The person and their submission: the one their conversation points at (`pointed`),
    or the one given as the `sid` parameter. Built once: bound parameters, not values."""
    sub_on = _S.id == (_C.submission_id if pointed else bindparam("sid"))
    return (
        select(*_CTX_COLUMNS)
        .select_from(
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
        .where(_P.telegram_id == bindparam("tid"))
    )


_CTX_POINTED, _CTX_GIVEN = _ctx_query(True), _ctx_query(False)


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
    if submission_id is None:
        found = await session.execute(_CTX_POINTED, {"tid": user.id})
    else:
        found = await session.execute(_CTX_GIVEN, {"tid": user.id, "sid": submission_id})
    row = found.first()
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
    lang = choose_language(plang, user.language_code, services.settings.bureau.default_language)
    ctx = Ctx(
        person_id=pid,
        role=role,
        person_school_id=pschool,
        lang=lang,
        _=gettext_for(lang),
        conv_kind=ckind,
        conv_state=json.loads(cstate) if cstate else {},
        conv_sub_id=csub,
        conv_stored=(ckind, csub, cstate or "{}"),
    )
    if sid is None:
        return ctx
    ctx.sub_id, ctx.school_id, ctx.status, ctx.current_revision = sid, sschool, sstatus, scur
    ctx.position = spos
    ctx.version = sversion
    ctx.skipped = json.loads(sskipped or "[]")
    ctx.sub_state = json.loads(sstate or "{}")
    ctx.round = RoundRow(rid, fcode, fver, period, deadline, grace, lock_at, rstatus, created_by)
    ctx.lock = Lock(unlocked)
    ctx.school_name = school_name
    ctx.context = {"stage": stage, "district": district}
    if with_answers and ctx.allowed:
        ctx.form = await versions.form_version(session, fcode, fver)
        rows = await answer_rows(session, sid, WORKING)
        ctx.answers = answers_from_rows(ctx.form, rows)
    return ctx


def update_person(pid: int, name: str, username: str | None, tlang: str | None) -> Any:
    return (
        update(Person)
        .where(Person.id == pid)
        .values(name=name, username=username, telegram_language=tlang, reachable=True)
    )


async def set_conversation(
    session: AsyncSession,
    person_id: int,
    kind: str,
    submission_id: int | None,
    state: dict[str, Any] | None = None,
) -> None:
    values = {
        "person_id": person_id,
        "kind": kind,
        "submission_id": submission_id,
        "state": json.dumps(state or {}, ensure_ascii=False),
        "updated_at": utcnow(),
    }
    stmt = insert_for(session.get_bind().dialect.name)(Conversation).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["person_id"],
        set_={
            k: getattr(stmt.excluded, k) for k in ("kind", "submission_id", "state", "updated_at")
        },
    )
    await session.execute(stmt)


_SAVE_STATE = (
    update(cast(Table, Conversation.__table__))
    .where(_C.person_id == bindparam("pid"))
    .values(state=bindparam("state"), updated_at=bindparam("now"))
)
"""Built once: the answer step writes the person's conversation state every time (what
they were shown), so it is a prepared Core statement like the step's other writes."""


async def save_conversation_state(
    session: AsyncSession, person_id: int, state: dict[str, Any] | str
) -> None:
    text = state if isinstance(state, str) else json.dumps(state, ensure_ascii=False)
    await session.execute(_SAVE_STATE, {"pid": person_id, "state": text, "now": utcnow()})


async def clear_conversation(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(Conversation).where(Conversation.person_id == person_id))


def point(ctx: Ctx, state: dict[str, Any] | None = None) -> None:
    """Make the submission in `ctx` the person's conversation (written by sync_conversation)."""
    ctx.conv_kind, ctx.conv_sub_id, ctx.conv_state = KIND_REPORT, ctx.sub_id, dict(state or {})


def leave(ctx: Ctx) -> None:
    """End the person's conversation (written by sync_conversation)."""
    ctx.conv_kind, ctx.conv_sub_id, ctx.conv_state = None, None, {}


def in_this_report(ctx: Ctx) -> bool:
    """Is the person's conversation the report `ctx` is about?"""
    return ctx.conv_kind == KIND_REPORT and ctx.sub_id is not None and ctx.conv_sub_id == ctx.sub_id


async def sync_conversation(session: AsyncSession, ctx: Ctx) -> None:
    """Store the person's conversation as the step left it, in at most one statement,
    with "at": what the reply shows them (when it shows their report's question or
    review)."""
    if in_this_report(ctx) and ctx.shown is not None:
        ctx.conv_state["at"] = ctx.shown
    kind, sub = ctx.conv_kind, ctx.conv_sub_id
    state = json.dumps(ctx.conv_state, ensure_ascii=False)
    stored_kind, stored_sub, stored_state = ctx.conv_stored
    if (kind, sub) == (stored_kind, stored_sub):
        if kind is not None and state != stored_state:
            await save_conversation_state(session, ctx.person_id, state)
    elif kind is None:
        await clear_conversation(session, ctx.person_id)
    else:
        await set_conversation(session, ctx.person_id, kind, sub, ctx.conv_state)
    ctx.conv_stored = (kind, sub, state)


async def get_conversation_kind(session: AsyncSession, person_id: int) -> str | None:
    return (
        await session.execute(select(Conversation.kind).where(Conversation.person_id == person_id))
    ).scalar_one_or_none()


# --- walking the form --------------------------------------------------------------------


def is_open(step: Step, answers: Answers, skipped: set[str]) -> bool:
    """Still to be asked: unanswered (a group not finished) and not skipped."""
    if key_text(step.key) in skipped:
        return False
    if step.kind == "add_item":
        return answers.get(step.key) is not True
    return answers.get(step.key) is None


def first_open(
    visible: list[Step], answers: Answers, skipped: set[str], start: int = 0
) -> Step | None:
    for s in visible[start:]:
        if is_open(s, answers, skipped):
            return s
    return None


def is_complete(visible: list[Step], answers: Answers) -> bool:
    for s in visible:
        if s.kind == "add_item":
            if answers.get(s.key) is not True:
                return False
        elif s.field is not None and s.field.required and answers.get(s.key) is None:
            return False
    return True


def current_step(ctx: Ctx, visible: list[Step]) -> Step | None:
    """The question the submission stands at; None means the review screen."""
    if ctx.position == REVIEW:
        return None
    key = parse_key(ctx.position)
    if key is not None:
        for s in visible:
            if s.key == key:
                return s
    return first_open(visible, ctx.answers, set(ctx.skipped))


def index_of(visible: list[Step], key: AnswerKey) -> int | None:
    for i, s in enumerate(visible):
        if s.key == key:
            return i
    return None


def next_after(ctx: Ctx, visible: list[Step], key: AnswerKey) -> Step | None:
    """Where to go once `key` is answered: the very next question while walking back
    through answered ones, the review when editing from it, else the next open one."""
    skipped = set(ctx.skipped)
    i = index_of(visible, key)
    nxt: Step | None
    if ctx.sub_state.get("walk") and i is not None and i + 1 < len(visible):
        nxt = visible[i + 1]
        if is_open(nxt, ctx.answers, skipped):
            ctx.sub_state.pop("walk", None)
        return nxt
    ctx.sub_state.pop("walk", None)
    if ctx.sub_state.get("return") == REVIEW:
        nxt = first_open(visible, ctx.answers, skipped)
        if nxt is None:
            ctx.sub_state.pop("return", None)
        return nxt
    if i is not None:
        nxt = first_open(visible, ctx.answers, skipped, i + 1)
        if nxt is not None:
            return nxt
    return first_open(visible, ctx.answers, skipped)


def previous_value(ctx: Ctx, step: Step) -> Value | None:
    if step.field is None or step.group is not None:
        return None
    raw = ctx.sub_state.get("prev", {}).get(step.field.code)
    if raw is None:
        return None
    try:
        return load_value(step.field, raw)
    except Exception:
        return None


def render_question(
    ctx: Ctx,
    visible: list[Step],
    step: Step,
    before: list[str] | None = None,
    extra: list[list[InlineKeyboardButton]] | None = None,
) -> Rendered:
    assert ctx.form is not None and ctx.round is not None and ctx.sub_id is not None
    ticked = None
    if step.field is not None and step.field.type == "multi_choice":
        ticked = ticked_codes(ctx, step)
    i = index_of(visible, step.key)
    ctx.shown = key_text(step.key)
    rendered = view.question(
        view.QuestionView(
            form=ctx.form,
            period=period_label(ctx.round.period, ctx.lang),
            step=step,
            lang=ctx.lang,
            current=ctx.answers.get(step.key) if step.kind == "field" else None,
            previous=previous_value(ctx, step),
            ticked=ticked,
            submission_id=ctx.sub_id,
            can_go_back=bool(i),
            complete=is_complete(visible, ctx.answers),
        ),
        ctx._,
        before or (),
    )
    if extra and rendered.markup is not None:
        rows = [list(r) for r in rendered.markup.inline_keyboard]
        rendered = Rendered(rendered.text, InlineKeyboardMarkup([*extra, *rows]))
    return rendered


def render_review(ctx: Ctx, before: list[str] | None = None) -> Rendered:
    assert ctx.form is not None and ctx.round is not None and ctx.sub_id is not None
    form, answers = ctx.form, ctx.answers
    visible = steps(form, answers, ctx.context)
    results = validate(form, answers, ctx.context)
    missing = [
        s
        for s in visible
        if s.kind == "field"
        and s.field is not None
        and s.field.required
        and answers.get(s.key) is None
    ] + [s for s in visible if s.kind == "add_item" and answers.get(s.key) is not True]
    missing.sort(key=lambda s: s.position)
    ctx.shown = REVIEW
    return view.review(
        view.ReviewView(
            form=form,
            period=period_label(ctx.round.period, ctx.lang),
            lang=ctx.lang,
            steps=visible,
            answers=answers,
            computed=computed(form, answers, ctx.context),
            errors=[r for r in results if r.severity == "error"],
            warnings=[r for r in results if r.severity == "warning"],
            missing=missing,
            submission_id=ctx.sub_id,
            revising=ctx.current_revision > 0,
        ),
        ctx._,
        before or (),
    )


def render_position(
    ctx: Ctx, before: list[str] | None = None, extra: list[list[InlineKeyboardButton]] | None = None
) -> Rendered:
    assert ctx.form is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = current_step(ctx, visible)
    if step is None:
        return render_review(ctx, before)
    return render_question(ctx, visible, step, before, extra)


async def save_position(
    session: AsyncSession,
    ctx: Ctx,
    position: str | None,
    changes: dict[AnswerKey, Value | None] | None = None,
    *,
    replace: bool = False,
) -> None:
    """Write where the draft stands now (and the answers that moved it there) if no
    colleague changed the draft since it was read (else rs.DraftMoved, nothing written:
    the step is done again from what is there now)."""
    assert ctx.sub_id is not None and (ctx.form is not None or changes is None)
    ctx.position = position
    status = ctx.status
    if status == SubmissionStatus.NOT_STARTED.value:
        status = SubmissionStatus.DRAFT.value
    ctx.status = status
    if ctx.message_id is not None:
        ctx.sub_state.setdefault("seen", {})[str(ctx.person_id)] = ctx.message_id
    columns = {
        "position": position,
        "skipped": json.dumps(ctx.skipped),
        "state": json.dumps(ctx.sub_state, ensure_ascii=False),
        "status": status,
    }
    now = utcnow()
    if changes is None:
        ctx.version = await touch_submission(
            session, ctx.sub_id, version=ctx.version, now=now, **columns
        )
        return
    assert ctx.form is not None
    ctx.version = await save_step(
        session,
        ctx.sub_id,
        ctx.form,
        changes,
        version=ctx.version,
        by=ctx.person_id,
        now=now,
        replace=replace,
        **columns,
    )


# --- refusals ----------------------------------------------------------------------------


async def whom_to_ask(session: AsyncSession, services: Services, ctx: Ctx) -> str:
    _ = ctx._
    bureau = escape(services.settings.bureau.name)
    creator = None
    if ctx.round is not None and ctx.round.created_by is not None:
        creator = await session.get(Person, ctx.round.created_by)
    if creator is not None and creator.name:
        who = escape(creator.name) + (f" (@{escape(creator.username)})" if creator.username else "")
        return _("please ask {person} at {bureau} to unlock it for your school.").format(
            person=who, bureau=bureau
        )
    return _("please ask the staff of {bureau} to unlock it for your school.").format(bureau=bureau)


async def locked_text(session: AsyncSession, services: Services, ctx: Ctx) -> str:
    assert ctx.round is not None
    _ = ctx._
    tz = services.settings.bureau.tz
    lock = lock_time(ctx.round)
    if ctx.round.status == RoundStatus.CLOSED.value and lock > services.now():
        # Closed early by staff: it closed then, not at the lock time still ahead.
        closed_when = await session.scalar(select(Round.closed_at).where(Round.id == ctx.round.id))
        if closed_when is not None:
            lock = min(lock, closed_when)
    closed_at = view.local(lock, tz)
    return (
        "🔒 "
        + _("Sorry, this report closed on {time} and can no longer be changed here.").format(
            time=closed_at
        )
        + "\n"
        + _("If something must still be changed, {ask}").format(
            ask=await whom_to_ask(session, services, ctx)
        )
    )


def not_yours_text(_: Gettext) -> str:
    return _("Sorry, this report is not for your school, or you are no longer its contact.")


async def submitted_by_text(session: AsyncSession, services: Services, ctx: Ctx) -> str:
    """Who submitted the report and when (bureau time): what a colleague pressing an old
    button, or submitting at the same moment, is told."""
    assert ctx.sub_id is not None
    _ = ctx._
    revisions = await revisions_of(session, ctx.sub_id)
    if not revisions:
        return _("This button is no longer valid.")
    last = revisions[-1]
    who = await session.get(Person, last.submitted_by) if last.submitted_by else None
    return _("This report was already submitted by {person} on {time} (revision {number}).").format(
        person=who.name if who is not None and who.name else _("a colleague"),
        time=view.local(last.submitted_at, services.settings.bureau.tz),
        number=last.number,
    )


def submitted_text(ctx: Ctx) -> Rendered:
    _ = ctx._
    assert ctx.sub_id is not None
    return Rendered(
        _("This report has already been submitted (revision {number}).").format(
            number=ctx.current_revision
        ),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("✏️ Revise"), callback_data=cb("v", ctx.sub_id))]]
        ),
    )


# --- the answer step ----------------------------------------------------------------------


async def apply_changes(
    session: AsyncSession,
    ctx: Ctx,
    key: AnswerKey,
    changes: dict[AnswerKey, Value | None],
) -> Rendered:
    """Commit answers for the current question, then show the next one (or the review),
    saying at once if an error rule the answer took part in now fails.

    The answers change in memory first and the reply is rendered from them; the writes
    come last, back to back, so that on SQLite the database's one write lock is held for
    as short a time as possible while a few hundred principals answer at once."""
    assert ctx.form is not None and ctx.sub_id is not None
    form = ctx.form
    for k, v in changes.items():
        if v is None:
            ctx.answers.pop(k, None)
        else:
            ctx.answers[k] = v
    kt = key_text(key)
    if kt in ctx.skipped:
        ctx.skipped.remove(kt)
    ctx.conv_state.pop("ticked", None)  # the question is answered: its ticks are done
    visible = steps(form, ctx.answers, ctx.context)
    failing: list[RuleResult] = []
    announced: list[str] = list(ctx.sub_state.get("failing", []))
    resolved: list[str] = []
    if any(key[0] in r.fields for r in form.all_rules()) or announced:
        errors = [r for r in validate(form, ctx.answers, ctx.context) if r.severity == "error"]
        failing = [r for r in errors if key in r.keys]
        still = {r.rule for r in errors}
        resolved = [code for code in announced if code not in still]
        ctx.sub_state["failing"] = sorted(
            {c for c in announced if c in still} | {r.rule for r in failing}
        )
        if not ctx.sub_state["failing"]:
            del ctx.sub_state["failing"]
    nxt = next_after(ctx, visible, key)
    before: list[str] = []
    extra: list[list[InlineKeyboardButton]] = []
    if resolved and not failing:
        before = ["✅ " + ctx._("Thank you, the figures agree now."), ""]
    if failing:
        before = view.rule_lines(failing, form, ctx.lang, ctx._)
        before.append(ctx._("Press ✏️ to correct a figure now, or go on and correct it later."))
        before.append("")
        extra = view.fix_buttons(failing, visible, ctx.sub_id, ctx.lang)
    if nxt is None:
        reply = render_review(ctx, before)
    else:
        reply = render_question(ctx, visible, nxt, before, extra)
    await save_position(session, ctx, REVIEW if nxt is None else key_text(nxt.key), changes)
    return reply


def question_markup(ctx: Ctx, visible: list[Step], step: Step) -> InlineKeyboardMarkup | None:
    return render_question(ctx, visible, step).markup


async def answer_text(session: AsyncSession, services: Services, ctx: Ctx, text: str) -> Rendered:
    """A typed answer to the question this person was shown (the draft's current one,
    or else nothing is stored and they are shown where the draft stands now)."""
    assert ctx.form is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = current_step(ctx, visible)
    _ = ctx._
    moved = moved_since_shown(ctx, visible, step)
    if moved is not None:
        return render_position(ctx, [moved, ""])
    if step is None:
        return render_review(
            ctx, [_("All questions are answered. Press ✏️ to change an answer, or submit."), ""]
        )
    if step.kind == "add_item":
        assert step.group is not None
        yes = parse_yes_no(text)
        if yes is None:
            return Rendered(
                "❌ " + _("Please answer yes or no, or press a button."),
                question_markup(ctx, visible, step),
            )
        return await add_or_finish(session, ctx, step, yes)
    f = step.field
    assert f is not None
    parsed = parse_answer(f, text)
    if isinstance(parsed, ParseError):
        return Rendered(
            view.parse_error(parsed, f, ctx.lang, _), question_markup(ctx, visible, step)
        )
    if parsed.value is None:
        return await skip(session, ctx, step)
    return await apply_changes(session, ctx, step.key, {step.key: parsed.value})


def moved_since_shown(ctx: Ctx, visible: list[Step], step: Step | None) -> str | None:
    """Why the draft is no longer at what this person was last shown (None: it is).

    Principal and deputy share the draft: while one looked at a question the other may
    have answered it (or moved the draft elsewhere). A typed answer is meant for the
    question its writer saw, so it is not filed under another one."""
    at = ctx.conv_state.get("at") if in_this_report(ctx) else None
    here = REVIEW if step is None else key_text(step.key)
    if not isinstance(at, str) or at == here:
        return None  # nothing recorded (a conversation from before "at" existed): as shown
    _ = ctx._
    key = parse_key(at)
    shown = next((s for s in visible if s.key == key), None) if key is not None else None
    if at != REVIEW and (shown is None or not is_open(shown, ctx.answers, set(ctx.skipped))):
        return "ℹ️ " + _(
            "A colleague has already answered that question, so your answer was not saved. "
            "This is where the report stands now:"
        )
    return "ℹ️ " + _(
        "A colleague has moved the report to another question meanwhile, so your answer "
        "was not saved. This is where the report stands now:"
    )


async def add_or_finish(session: AsyncSession, ctx: Ctx, step: Step, yes: bool) -> Rendered:
    assert ctx.form is not None and step.group is not None
    code = step.group.code
    changes: dict[AnswerKey, Value | None] = dict(
        add_item(ctx.form, ctx.answers, code) if yes else finish_group(ctx.form, ctx.answers, code)
    )
    return await apply_changes(session, ctx, step.key, changes)


async def skip(session: AsyncSession, ctx: Ctx, step: Step) -> Rendered:
    assert ctx.form is not None and ctx.sub_id is not None
    kt = key_text(step.key)
    if kt not in ctx.skipped:
        ctx.skipped.append(kt)
    ctx.answers.pop(step.key, None)
    visible = steps(ctx.form, ctx.answers, ctx.context)
    nxt = next_after(ctx, visible, step.key)
    await save_position(
        session, ctx, REVIEW if nxt is None else key_text(nxt.key), {step.key: None}
    )
    if nxt is None:
        return render_review(ctx)
    return render_question(ctx, visible, nxt)


def guard(ctx: Ctx | None, now: datetime) -> str | None:
    """Why this person may not touch the submission now (None: they may)."""
    if ctx is None or ctx.sub_id is None or ctx.round is None:
        return "gone"
    if not ctx.allowed:
        return "not_yours"
    if is_locked(ctx.round, ctx.lock, now):
        return "locked"
    if ctx.status == SubmissionStatus.SUBMITTED.value:
        return "submitted"
    return None


async def refusal(session: AsyncSession, services: Services, ctx: Ctx, why: str) -> Rendered:
    _ = ctx._
    if why == "locked":
        return Rendered(await locked_text(session, services, ctx))
    if why == "submitted":
        told = submitted_text(ctx)
        return Rendered(escape(await submitted_by_text(session, services, ctx)), told.markup)
    if why == "not_yours":
        return Rendered(not_yours_text(_))
    return Rendered(_("This report is no longer available. Send /report to see your reports."))


async def on_text(update: Update, context: HuibaoContext) -> None:
    """Plain text: an answer, a reason or a comment if the person is in a conversation;
    otherwise left for later handler groups."""
    message = update.effective_message
    if message is None or message.text is None or update.effective_user is None:
        return
    services = context.services
    text, message_id = message.text, message.message_id

    async def step(session: AsyncSession) -> tuple[str | None, Rendered | None]:
        ctx = await load_ctx(session, services, update)
        if ctx is None or ctx.conv_kind is None or looks_like_other_input(text):
            return None, None
        if ctx.conv_kind == KIND_REPORT:
            ctx.message_id = message_id
            reply = await report_text(session, services, ctx, text)
            await sync_conversation(session, ctx)
            return KIND_REPORT, reply
        if ctx.conv_kind == KIND_ROUND:
            for waiting in STAFF_INPUT:
                if await waiting(session, ctx.person_id):
                    return None, None
        return ctx.conv_kind, None

    kind, reply = await retrying(services, step)
    if kind is None:
        return
    # Sent after the transaction has committed (principle 7).
    if kind == KIND_ROUND:
        from handlers import rounds

        await rounds.on_text(update, context)
    elif reply is not None:
        await send(message, reply)
    raise ApplicationHandlerStop


ATTEMPTS = 5
"""How often a step is done again when a colleague's write to the shared draft came
first (rs.DraftMoved); each attempt reads what is there now, so the second one nearly
always decides differently (e.g. "a colleague answered that question")."""


async def retrying(services: Services, step: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `step` in a transaction of its own, again from the start if the shared
    draft moved under it (its writes are rolled back, nothing half-done stays)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with services.transaction() as session:
                return await step(session)
        except DraftMoved as moved:
            log.info(
                "draft moved meanwhile, step done again",
                extra={"submission_id": moved.submission_id, "attempt": attempt},
            )
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


OTHER_INPUT: list[Callable[[str], bool]] = []
"""Predicates of other capabilities for text they must see even while the person is in
a conversation (e.g. onboarding appends "looks like an invitation code" in its
register()). Such text is passed on to later handler groups untouched."""


STAFF_INPUT: list[Callable[[AsyncSession, int], Awaitable[bool]]] = []
"""Checks of other capabilities (person id in, "I am waiting for this person's text"
out) that take a staff member's text before their round set-up does, e.g. a notice
draft waiting for its text. Their handlers run in a later group than this one, so the
principals' answers, the hot path, never pay for those checks."""


def looks_like_other_input(text: str) -> bool:
    return any(predicate(text) for predicate in OTHER_INPUT)


async def report_text(session: AsyncSession, services: Services, ctx: Ctx, text: str) -> Rendered:
    why = guard(ctx, services.now())
    waiting = ctx.conv_state.get("await")
    if why == "submitted" and waiting == "reason":
        # The reason opens the revision, so the report is still "submitted" here.
        return await revision_reason(session, services, ctx, text)
    if why is not None:
        # The report this conversation is about was submitted (e.g. by a colleague) or
        # closed: the conversation has nothing left to take.
        leave(ctx)
        return await refusal(session, services, ctx, why)
    if waiting == "reason":
        return await revision_reason(session, services, ctx, text)
    if waiting == "comment":
        return await warning_comment(session, services, ctx, text)
    seen = ctx.sub_state.get("seen", {}).get(str(ctx.person_id))
    if ctx.message_id is not None and isinstance(seen, int) and ctx.message_id <= seen:
        # Already stored before a crash: ask the current question again instead.
        return render_position(ctx)
    return await answer_text(session, services, ctx, text)


async def send(message: Message, reply: Rendered) -> None:
    await message.reply_text(reply.text, reply_markup=reply.markup, do_quote=False)


# --- buttons -----------------------------------------------------------------------------

_STEP_ACTIONS = frozenset("kctdsynb")
_ACTIONS = _STEP_ACTIONS | frozenset("oxreDSv")
# Ids are row ids: at most nine digits keeps them inside PostgreSQL's 32-bit integers.
_ID, _TOKEN, _INDEX = r"[1-9]\d{0,8}", r"[0-9a-f]{1,8}", r"\d{1,3}"
_SHAPES = {
    **dict.fromkeys("oxrSv", re.compile(rf"{_ID}")),
    **dict.fromkeys("kdsynbe", re.compile(rf"{_ID}:{_TOKEN}")),
    **dict.fromkeys("ctD", re.compile(rf"{_ID}:{_TOKEN}:{_INDEX}")),
}
"""Every report button's exact shape (see report_view): callback data is untrusted, so
anything else (a part too many, a sign, a letter in an id) is refused as a whole."""


def parse_callback(data: str | None) -> tuple[str, list[str]] | None:
    prefix, _sep, rest = (data or "").partition(":")
    action, _sep, tail = rest.partition(":")
    shape = _SHAPES.get(action)
    if prefix != view.PREFIX or shape is None or shape.fullmatch(tail) is None:
        return None
    return action, tail.split(":")


async def on_button(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    parsed = parse_callback(query.data)
    services = context.services
    if parsed is None:
        async with unit(update, context) as (_session, who):
            invalid = who._("This button is no longer valid.")
        await query.answer(invalid, show_alert=True)  # after the commit (principle 7)
        return
    action, args = parsed
    if action == "o":
        await open_report(update, context, int(args[0]))
        return

    async def step(session: AsyncSession) -> ButtonResult:
        ctx = await load_ctx(session, services, update, int(args[0]))
        if ctx is None or ctx.sub_id is None:
            gone = gettext_for(ctx.lang if ctx else services.settings.bureau.default_language)
            return gone("This button is no longer valid."), None, None
        result = await button(session, services, ctx, action, args[1:])
        await sync_conversation(session, ctx)
        return result

    alert, reply, edit_markup = await retrying(services, step)
    if alert is not None:
        await query.answer(alert, show_alert=True)
    else:
        await query.answer()
    message = query.message
    if edit_markup is not None and isinstance(message, Message):
        try:
            await message.edit_reply_markup(edit_markup)
        except BadRequest as err:
            if "not modified" not in str(err):
                raise
    if reply is not None and isinstance(message, Message):
        await send(message, reply)


ButtonResult = tuple[str | None, Rendered | None, InlineKeyboardMarkup | None]


async def button(
    session: AsyncSession, services: Services, ctx: Ctx, action: str, args: list[str]
) -> ButtonResult:
    """One report button, checked against the presser's school and where the report
    stands. A refusal (another school's button, an old one, a forged one) answers the
    press and changes nothing: the presser's own conversation goes on as it was."""
    _ = ctx._
    if action == "v":
        return await start_revision(session, services, ctx)
    if action == "x":
        return await pause(session, ctx)
    why = guard(ctx, services.now())
    if why == "locked":
        return None, await refusal(session, services, ctx, why), None
    if why == "submitted":
        return await submitted_by_text(session, services, ctx), None, None
    if why is not None:
        return (await refusal(session, services, ctx, why)).text, None, None
    assert ctx.form is not None and ctx.sub_id is not None
    visible = steps(ctx.form, ctx.answers, ctx.context)
    step = current_step(ctx, visible)
    if action in _STEP_ACTIONS and (step is None or key_token(step.key) != args[0]):
        stale = _("That button belongs to an earlier question. Here is the current one.")
        if not in_this_report(ctx):
            return _("This button is no longer valid."), None, None
        return stale, render_position(ctx), None
    stored = (ctx.conv_kind, ctx.conv_sub_id, dict(ctx.conv_state))
    if not in_this_report(ctx) or ctx.conv_state.get("await"):
        # Pressing a report's button (e.g. on another phone) makes it the current one.
        point(ctx)
    alert, reply, markup = await act(session, services, ctx, action, args, visible, step)
    if alert is not None and reply is None and markup is None:
        # Refused (a forged choice, nothing to keep, ...): the conversation stays as it was.
        ctx.conv_kind, ctx.conv_sub_id, ctx.conv_state = stored
        ctx.shown = None
    return alert, reply, markup


async def act(
    session: AsyncSession,
    services: Services,
    ctx: Ctx,
    action: str,
    args: list[str],
    visible: list[Step],
    step: Step | None,
) -> ButtonResult:
    """Do what a checked button of the person's own report asks."""
    assert ctx.form is not None and ctx.sub_id is not None
    _ = ctx._
    if action == "r":
        await save_position(session, ctx, REVIEW)
        return None, render_review(ctx), None
    if action == "S":
        return await submit_report(session, services, ctx)
    if action == "e":
        target = next((s for s in visible if key_token(s.key) == args[0]), None) if args else None
        if target is None:
            return _("This question is no longer part of the form."), None, None
        if ctx.position == REVIEW:
            ctx.sub_state["return"] = REVIEW
        ctx.sub_state.pop("walk", None)
        await save_position(session, ctx, key_text(target.key))
        return None, render_question(ctx, visible, target), None
    if action == "D":
        return await remove_group_item(session, ctx, args)
    assert step is not None
    if action == "b":
        i = index_of(visible, step.key)
        if not i:
            return _("This is the first question."), None, None
        ctx.sub_state["walk"] = True
        await save_position(session, ctx, key_text(visible[i - 1].key))
        return None, render_question(ctx, visible, visible[i - 1]), None
    if action == "s":
        if step.field is None or step.field.required:
            return _("This question cannot be skipped."), None, None
        return None, await skip(session, ctx, step), None
    if action in ("y", "n"):
        if step.kind != "add_item":
            return _("This button is no longer valid."), None, None
        return None, await add_or_finish(session, ctx, step, action == "y"), None
    f = step.field
    if f is None:
        return _("This button is no longer valid."), None, None
    if action == "k":
        value = ctx.answers.get(step.key)
        if value is None:
            value = previous_value(ctx, step)
        if value is None:
            return _("There is no value to keep."), None, None
        return None, await apply_changes(session, ctx, step.key, {step.key: value}), None
    if action == "c":
        index = _index(args, len(f.choices))
        if f.type != "choice" or index is None:
            return _("This button is no longer valid."), None, None
        return (
            None,
            await apply_changes(session, ctx, step.key, {step.key: f.choices[index].code}),
            None,
        )
    if action == "t":
        index = _index(args, len(f.choices))
        if f.type != "multi_choice" or index is None:
            return _("This button is no longer valid."), None, None
        picked = set(ticked_codes(ctx, step)) ^ {f.choices[index].code}
        ctx.conv_state["ticked"] = {
            "key": key_text(step.key),
            "codes": [c.code for c in f.choices if c.code in picked],
        }
        return None, None, question_markup(ctx, visible, step)
    if action == "d":
        if f.type != "multi_choice":
            return _("This button is no longer valid."), None, None
        codes = ticked_codes(ctx, step)
        err: ParseError | None = None
        if isinstance(f.min, int) and len(codes) < f.min:
            err = ParseError("too_few_choices", {"min": f.min})
        elif isinstance(f.max, int) and len(codes) > f.max:
            err = ParseError("too_many_choices", {"max": f.max})
        elif not codes and f.required:
            err = ParseError("required")
        if err is not None:
            text = view.parse_error(err, f, ctx.lang, _)
            return None, Rendered(text, question_markup(ctx, visible, step)), None
        return None, await apply_changes(session, ctx, step.key, {step.key: codes}), None
    return _("This button is no longer valid."), None, None


def ticked_codes(ctx: Ctx, step: Step) -> list[str]:
    """The choices ticked so far on a multiple-choice question (the stored answer
    until the person ticks something)."""
    tick = ctx.conv_state.get("ticked") if in_this_report(ctx) else None
    if isinstance(tick, dict) and tick.get("key") == key_text(step.key):
        return [str(c) for c in tick.get("codes", [])]
    current = ctx.answers.get(step.key)
    return list(current) if isinstance(current, list) else []


def _index(args: list[str], size: int) -> int | None:
    if len(args) < 2 or not args[1].isdigit():
        return None
    i = int(args[1])
    return i if 0 <= i < size else None


async def remove_group_item(session: AsyncSession, ctx: Ctx, args: list[str]) -> ButtonResult:
    assert ctx.form is not None and ctx.sub_id is not None
    _ = ctx._
    group = next(
        (g for g in ctx.form.groups if key_token((g.code, ITEM_DONE)) == (args[0] if args else "")),
        None,
    )
    if group is None or len(args) < 2 or not args[1].isdigit():
        return _("This button is no longer valid."), None, None
    index = int(args[1])
    from models.forms import item_count

    if not (view.item_removable(group.min_items, index) and index < item_count(group, ctx.answers)):
        return _("This item cannot be removed."), None, None
    remaining = remove_item(ctx.form, ctx.answers, group.code, index)
    ctx.answers = dict(remaining)
    await save_position(session, ctx, REVIEW, dict(remaining), replace=True)
    return None, render_review(ctx), None


async def pause(session: AsyncSession, ctx: Ctx) -> ButtonResult:
    """Pause (or cancel the reason prompt of) the report the person is in. Only their
    own school's report, and only the one their conversation is about: another
    school's button or an old one of another report is refused and ends nothing."""
    _ = ctx._
    if not ctx.allowed:
        return not_yours_text(_), None, None
    if not in_this_report(ctx):
        return _("This button is no longer valid."), None, None
    not_begun = revision_not_begun(ctx.conv_state, ctx.status)
    leave(ctx)
    if not_begun:
        return None, Rendered(nothing_changed_text(_)), None
    text = _("Saved. Your answers are kept; send /report to continue where you stopped.")
    return None, Rendered(text), None


def revision_not_begun(conv_state: dict[str, Any], status: str | None) -> bool:
    """Asked for the reason of a revision that has not begun: the report is still the
    submitted one, so leaving here changes nothing."""
    return conv_state.get("await") == "reason" and status == SubmissionStatus.SUBMITTED.value


def nothing_changed_text(_: Gettext) -> str:
    return _("Nothing was changed: the submitted report stays as it is.")


# --- submitting and revising --------------------------------------------------------------


async def _orm(session: AsyncSession, ctx: Ctx) -> tuple[Submission, Round, RoundSchool | None]:
    assert ctx.sub_id is not None and ctx.round is not None and ctx.school_id is not None
    submission = await session.get(Submission, ctx.sub_id)
    round_ = await session.get(Round, ctx.round.id)
    assert submission is not None and round_ is not None
    return submission, round_, await get_round_school(session, round_.id, ctx.school_id)


async def submit_report(
    session: AsyncSession,
    services: Services,
    ctx: Ctx,
    confirmed: list[dict[str, str]] | None = None,
) -> ButtonResult:
    assert ctx.form is not None and ctx.round is not None and ctx.sub_id is not None
    _ = ctx._
    now = services.now()
    # Locked first, checked against what this step read: of two people submitting at
    # the same moment the second does the step again and is told who submitted it.
    ctx.version = await claim_draft(session, ctx.sub_id, version=ctx.version, now=now)
    submission, round_, round_school = await _orm(session, ctx)
    reason = str(ctx.sub_state.get("reason", ""))
    try:
        revision = await submit(
            session,
            submission,
            round_,
            round_school,
            ctx.form,
            ctx.context,
            by=ctx.person_id,
            now=now,
            reason=reason,
            confirmed_warnings=confirmed or [],
            answers=ctx.answers,
        )
    except SubmitRefused as refused:
        if refused.locked:
            return None, Rendered(await locked_text(session, services, ctx)), None
        if refused.missing or refused.errors:
            await save_position(session, ctx, REVIEW)
            return (
                _("Not submitted yet: please correct what the review shows."),
                render_review(ctx),
                None,
            )
        if refused.unconfirmed:
            return None, await ask_comment(session, ctx, list(refused.unconfirmed)), None
        # A revision without a reason: ask for it.
        point(ctx, {"await": "reason", "then": "submit"})
        return None, Rendered(_("Please type in one line why you are revising this report.")), None
    leave(ctx)
    tz = services.settings.bureau.tz
    log.info(
        "report submitted",
        extra={
            "submission_id": submission.id,
            "revision": revision.number,
            "on_time": revision.on_time,
        },
    )
    # What the school may still do now: the round's lock while it is open, or what is
    # left of a staff unlock (the submission just used it up); nothing once both passed.
    until = revisable_until(round_, round_school, now)
    closed = ""
    if until is None:
        closed = "🔒 " + _(
            "Entry for this report is now closed. If something must still be changed, {ask}"
        ).format(ask=await whom_to_ask(session, services, ctx))
    text = view.receipt(
        form=ctx.form,
        period=period_label(ctx.round.period, ctx.lang),
        lang=ctx.lang,
        number=revision.number,
        reference=revision.reference,
        submitted_at=revision.submitted_at,
        on_time=revision.on_time,
        until=until,
        closed=closed,
        tz=tz,
        _=_,
    )
    return None, Rendered(text), None


async def ask_comment(session: AsyncSession, ctx: Ctx, warnings: list[RuleResult]) -> Rendered:
    assert ctx.form is not None and ctx.sub_id is not None
    _ = ctx._
    point(ctx, {"await": "comment"})
    lines = ["<b>" + _("Please confirm before submitting") + "</b>"]
    lines.extend(view.rule_lines(warnings, ctx.form, ctx.lang, _))
    lines.append("")
    lines.append(
        _(
            "If the figures are right, type a short explanation (it goes to the bureau with "
            "the report); or press ✏️ to correct a figure."
        )
    )
    visible = steps(ctx.form, ctx.answers, ctx.context)
    buttons = view.fix_buttons(warnings, visible, ctx.sub_id, ctx.lang)
    buttons.append(
        [InlineKeyboardButton(_("Back to the review"), callback_data=cb("r", ctx.sub_id))]
    )
    return Rendered("\n".join(lines), InlineKeyboardMarkup(buttons))


async def warning_comment(
    session: AsyncSession, services: Services, ctx: Ctx, text: str
) -> Rendered:
    assert ctx.form is not None
    _ = ctx._
    comment = text.strip()
    if not comment or len(comment) > MAX_REASON:
        return Rendered(
            "❌ "
            + _("Please type an explanation of at most {count} characters.").format(
                count=MAX_REASON
            )
        )
    results = [r for r in validate(ctx.form, ctx.answers, ctx.context) if r.severity == "warning"]
    key = "en" if ctx.lang.startswith("en") else "zh"
    confirmed = [
        {"rule": r.rule, "message": r.message.get(key, ""), "comment": comment} for r in results
    ]
    _alert, reply, _markup = await submit_report(session, services, ctx, confirmed)
    return reply or render_position(ctx)


async def start_revision(session: AsyncSession, services: Services, ctx: Ctx) -> ButtonResult:
    _ = ctx._
    if ctx.sub_id is None or ctx.round is None:
        return _("This button is no longer valid."), None, None
    if not ctx.allowed:
        return not_yours_text(_), None, None
    if is_locked(ctx.round, ctx.lock, services.now()):
        return None, Rendered(await locked_text(session, services, ctx)), None
    if ctx.status == SubmissionStatus.REVISING.value:
        if not in_this_report(ctx) or ctx.conv_state.get("await"):
            point(ctx)
        return None, render_position(ctx), None
    if ctx.current_revision == 0:
        return _("This report has not been submitted yet."), None, None
    point(ctx, {"await": "reason"})
    text = _(
        "You are revising revision {number}. The submitted figures stay with the bureau "
        "until you submit the new revision.\nPlease type in one line why you are revising."
    ).format(number=ctx.current_revision)
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("✖ Cancel"), callback_data=cb("x", ctx.sub_id))]]
    )
    return None, Rendered(text, markup), None


async def revision_reason(
    session: AsyncSession, services: Services, ctx: Ctx, text: str
) -> Rendered:
    _ = ctx._
    reason = text.strip()
    if not reason or len(reason) > MAX_REASON:
        return Rendered(
            "❌ "
            + _("Please type a reason of at most {count} characters.").format(count=MAX_REASON)
        )
    assert ctx.sub_id is not None
    ctx.version = await claim_draft(session, ctx.sub_id, version=ctx.version, now=services.now())
    submission, round_, round_school = await _orm(session, ctx)
    then = ctx.conv_state.get("then")
    if submission.status == SubmissionStatus.SUBMITTED.value:
        try:
            await begin_revision(
                session,
                submission,
                round_,
                round_school,
                reason=reason,
                by=ctx.person_id,
                now=services.now(),
            )
        except SubmitRefused:
            return Rendered(await locked_text(session, services, ctx))
    else:
        state = json.loads(submission.state or "{}")
        state["reason"] = reason
        submission.state = json.dumps(state, ensure_ascii=False)
    ctx.sub_state = json.loads(submission.state)
    ctx.status = submission.status
    ctx.position = REVIEW
    submission.position = REVIEW
    point(ctx)
    if then == "submit":
        _alert, reply, _m = await submit_report(session, services, ctx)
        return reply or render_review(ctx)
    return render_review(
        ctx, [_("Reason noted. Press ✏️ to change an answer, then submit the revision."), ""]
    )


# --- opening a report ----------------------------------------------------------------------


async def open_report(update: Update, context: HuibaoContext, round_id: int) -> None:
    query = update.callback_query
    message = query.message if query else update.effective_message
    services = context.services


    async def step(session: AsyncSession) -> tuple[Rendered | None, str | None]:
        return await open_in(session, services, update, round_id)

    reply, alert = await retrying(services, step)
    if query is not None:
        await query.answer(alert, show_alert=alert is not None)
    if reply is not None and isinstance(message, Message):
        await send(message, reply)


async def open_in(
    session: AsyncSession, services: Services, update: Update, round_id: int
) -> tuple[Rendered | None, str | None]:
    ctx = await load_ctx(session, services, update, with_answers=False)
    default = gettext_for(services.settings.bureau.default_language)
    if ctx is None:
        return None, default("This button is no longer valid.")
    _ = ctx._
    round_ = await session.get(Round, round_id)
    if round_ is None:
        return None, _("This button is no longer valid.")
    if not Role(ctx.role).is_school_contact or ctx.person_school_id is None:
        return None, not_yours_text(_)
    round_school = await get_round_school(session, round_id, ctx.person_school_id)
    if round_school is None:
        return None, not_yours_text(_)
    existing = (
        await session.execute(
            select(Submission.id).where(
                Submission.round_id == round_id, Submission.school_id == ctx.person_school_id
            )
        )
    ).scalar_one_or_none()
    now = services.now()
    if existing is None:
        if is_locked(round_, round_school, now):
            ctx.round = RoundRow(
                round_.id,
                round_.form_code,
                round_.form_version,
                round_.period,
                round_.deadline,
                round_.grace_minutes,
                round_.lock_at,
                round_.status,
                round_.created_by,
            )
            return Rendered(await locked_text(session, services, ctx)), None
        sub = await get_or_create_submission(session, round_, ctx.person_school_id, now=now)
        existing = sub.id
    full = await load_ctx(session, services, update, existing)
    assert full is not None and full.round is not None and full.form is not None
    if full.allowed and full.status == SubmissionStatus.SUBMITTED.value:
        return await submitted_summary(session, services, full), None
    why = guard(full, services.now())
    if why is not None:
        return await refusal(session, services, full, why), None
    if "prev" not in full.sub_state:
        school = await session.get(School, full.school_id)
        assert school is not None
        prev = await previous_answers(session, school.id, full.form, round_)
        full.sub_state["prev"] = {code: dump_value(v) for (code, _i), v in prev.items()}
    point(full)
    visible = steps(full.form, full.answers, full.context)
    step = current_step(full, visible)
    await save_position(session, full, REVIEW if step is None else key_text(step.key))
    tz = services.settings.bureau.tz
    intro = [
        "<b>"
        + escape(full.form.title.get(full.lang))
        + "</b> · "
        + escape(period_label(round_.period, full.lang)),
        escape(full.school_name),
        _("Deadline: {time}").format(time=view.local(round_.deadline, tz)),
    ]
    unlocked = unlocked_end(round_, round_school, now)
    if unlocked is not None:
        intro.append(
            "🔓 "
            + _("Unlocked for your school until {time}: you may submit once more.").format(
                time=view.local(unlocked, tz)
            )
        )
    if full.answers:
        intro.append(_("Welcome back: your earlier answers are kept."))
    else:
        intro.append(
            _(
                "{count} questions, one at a time. Every answer is saved as you give it; "
                "you may pause and come back at any time."
            ).format(count=len(visible))
        )
    intro.append("")
    rendered = render_position(full, intro)
    await sync_conversation(session, full)
    return rendered, None


async def submitted_summary(session: AsyncSession, services: Services, ctx: Ctx) -> Rendered:
    assert ctx.sub_id is not None and ctx.form is not None and ctx.round is not None
    _ = ctx._
    revisions = await revisions_of(session, ctx.sub_id)
    last = revisions[-1]
    tz = services.settings.bureau.tz
    lines = [
        "✅ "
        + _("Submitted: {form} ({period})").format(
            form=escape(ctx.form.title.get(ctx.lang)),
            period=escape(period_label(ctx.round.period, ctx.lang)),
        ),
        _("Revision {number}, received {time} ({zone})").format(
            number=last.number, time=view.local(last.submitted_at, tz), zone=escape(str(tz))
        ),
        _("Reference number: <code>{reference}</code>").format(reference=last.reference),
    ]
    buttons = []
    if not is_locked(ctx.round, ctx.lock, services.now()):
        buttons.append([InlineKeyboardButton(_("✏️ Revise"), callback_data=cb("v", ctx.sub_id))])
    else:
        lines.append(await locked_text(session, services, ctx))
    return Rendered("\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None)


# --- /report ---------------------------------------------------------------------------------


async def report_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    async with unit(update, context) as (session, who):
        reply = await report_list(session, services, who.person, who._)
    await send(message, reply)


async def report_list(
    session: AsyncSession, services: Services, person: Person, _: Gettext
) -> Rendered:
    """The person's reports: pending ones first, then submitted ones they may revise."""
    if not Role(person.role).is_school_contact or person.school_id is None:
        return Rendered(
            _(
                "Reports are filled in by school principals and deputies. If you are one, "
                "connect your school first with the invitation the bureau sent you."
            )
        )
    now = services.now()
    reports = await reports_for_school(session, person.school_id, now)
    tz = services.settings.bureau.tz
    lang = choose_language(
        person.language, person.telegram_language, services.settings.bureau.default_language
    )
    rows = []
    for r in reports:
        label = await report_label(session, r, lang, tz, now)
        if label is not None:
            rows.append([InlineKeyboardButton(label, callback_data=cb("o", r.round.id))])
    if not rows:
        return Rendered(_("There is no report for your school to fill in at the moment."))
    text = _(
        "Your school's reports (📝 to fill in, ✏️ being revised, ✅ submitted, 🔒 closed, "
        "🔓 unlocked until). Choose one:"
    )
    return Rendered(text, InlineKeyboardMarkup(rows))


REPORT_LABEL = 60
"""The longest report button; the title gives way so that the time always shows."""


async def report_label(
    session: AsyncSession, r: Report, lang: str, tz: ZoneInfo, now: datetime
) -> str | None:
    """A report's button: its state, form, period and deadline (or, when a staff unlock
    is what lets the school answer, 🔓 and the unlock's end); None if the form is gone."""
    try:
        form = await round_form(session, r.round)
    except Exception:
        log.exception("round form unavailable", extra={"round_id": r.round.id})
        return None
    if r.submitted and not r.pending:
        mark = "✅"
    elif r.locked:
        mark = "🔒"
    elif r.status == SubmissionStatus.REVISING.value:
        mark = "✏️"
    else:
        mark = "📝"
    unlocked = unlocked_end(r.round, r.round_school, now)
    when = view.local(unlocked if unlocked is not None else r.round.deadline, tz)[5:]
    period = period_label(r.round.period, lang)
    tail = f" · {period} · " + (f"🔓 {when}" if unlocked is not None else when)
    head = f"{mark} {form.title.get(lang)}"
    return view.short_label(head, max(REPORT_LABEL - len(tail), 12)) + tail


async def render_pending(
    session: AsyncSession, who: Who, services: Services
) -> menu.Block | None:
    """The home screen's reports: those waiting for the school, each a button that
    opens it, with its deadline (section "report.pending")."""
    _ = who._
    person = who.person
    if person.school_id is None:
        return None
    now = services.now()
    reports = await pending_for_person(session, person, now)
    if not reports:
        return menu.Block([_("<b>Reports</b>: nothing to fill in at the moment.")])
    tz = services.settings.bureau.tz
    buttons: list[list[tuple[str, str]]] = []
    for r in reports:
        label = await report_label(session, r, who.language, tz, now)
        if label is not None:
            buttons.append([(label, cb("o", r.round.id))])
    line = _("<b>Reports</b>: {count} waiting for your school. Press one to fill it in:").format(
        count=len(buttons)
    )
    return menu.Block([line], buttons)


async def cancel_command(update: Update, context: HuibaoContext) -> None:
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        row = (
            await session.execute(
                select(Conversation.kind, Conversation.state, Submission.status)
                .outerjoin(Submission, Submission.id == Conversation.submission_id)
                .where(Conversation.person_id == who.person.id)
            )
        ).first()
        await clear_conversation(session, who.person.id)
    _ = who._
    kind = row[0] if row is not None else None
    if kind == KIND_REPORT and row is not None and revision_not_begun(
        json.loads(row[1] or "{}"), row[2]
    ):
        text = nothing_changed_text(_)
    elif kind == KIND_REPORT:
        text = _("Saved. Your answers are kept; send /report to continue where you stopped.")
    elif kind is not None:
        text = _("Cancelled.")
    else:
        text = _("There is nothing to cancel.")
    await message.reply_text(text)


def register(app: HuibaoApp) -> None:
    private = filters.ChatType.PRIVATE
    # Through the menu registry: the commands appear in the menus and /help of the roles
    # named, and everyone else is refused before the callbacks run.
    menu.add_command(app, "report", report_command, N_("Your school's reports"), menu.SCHOOL,
                     order=10, filters=private)
    # Whoever has conversations: principals and deputies (reports), staff (set-ups).
    menu.add_command(app, "cancel", cancel_command, N_("Pause a report or leave a set-up"),
                     menu.SCHOOL | menu.STAFF, order=90, filters=private)
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^rp:"))
    menu.add_section(menu.Section("report.pending", menu.SCHOOL, render_pending, order=10))
    app.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & private, on_text), group=TEXT_GROUP
    )
