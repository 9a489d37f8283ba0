"""/invite and the invite buttons of the school, district and staff screens: a code, its
link and its QR code, to forward to the person."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import TelegramError

from handlers import menu
from handlers.admin.schools import school_screen, search_screen
from handlers.admin.screen import SEARCH_CHARACTERS, Screen, argument, show, staff_only
from handlers.context import Who, unit
from models.roster.invites import (
    CreatedInvite,
    Invite,
    InviteError,
    create_invites,
    deep_link,
    display,
    resolve_targets,
)
from models.roster.roster_file import district_by_name, school_by_code
from models.roster.tables import District, Person, Role, School
from texts.admin import (
    district_invite_question,
    invitation_text,
    invite_changed_text,
    invite_help,
    invited_as,
    school_invite_question,
)
from texts.callbacks import (
    ConfirmDistrictInvite,
    ConfirmSchoolInvite,
    InviteDistrictOfficer,
    InviteStaff,
    InviteToSchool,
    SchoolCard,
    SchoolsPage,
)
from transport.context import HuibaoContext

log = logging.getLogger("huibao.admin")

# InviteToSchool.kind: the principal, a principal replacing the current one, a deputy.
SCHOOL_INVITES = ("p", "r", "d")


@dataclass
class Outcome:
    """What /invite answers: a screen, a new invitation, or a problem to say."""

    screen: Screen | None = None
    created: CreatedInvite | None = None
    problem: str = ""


def _help_screen(who: Who) -> Screen:
    return Screen(invite_help(who._))


async def _request(
    session: AsyncSession, who: Who, context: HuibaoContext, text: str
) -> Outcome:
    """What `/invite text` asks for: help, a staff or district officer invitation, or the
    school with that code (else the schools whose names match)."""
    if not staff_only(who):
        return Outcome(problem=menu.refusal(who, menu.STAFF))
    if not text:
        return Outcome(screen=_help_screen(who))
    words = text.split(maxsplit=1)
    if words[0].lower() == "staff" and len(words) == 1:
        if who.role is not Role.ADMIN:
            return Outcome(problem=menu.refusal(who, menu.ADMIN))
        created, problem = await _create(session, who, context, Role.STAFF)
        return Outcome(None, created, problem)
    if words[0].lower() == "district" and len(words) == 2:
        district = await district_by_name(session, words[1])
        if district is None:
            return Outcome(
                problem=who._("No district is called “{name}”.").format(name=escape(words[1]))
            )
        created, problem = await _create(
            session, who, context, Role.DISTRICT_OFFICER, district=district
        )
        return Outcome(None, created, problem)
    school = await school_by_code(session, text)
    if school is not None:
        return Outcome(screen=await school_screen(session, who, school.id))
    return Outcome(screen=await search_screen(session, who, text[:SEARCH_CHARACTERS]))


async def invite_command(update: Update, context: HuibaoContext) -> None:
    text = argument(context)
    message = update.effective_message
    assert message is not None
    async with unit(update, context) as (session, who):
        outcome = await _request(session, who, context, text)
        created = outcome.created
        reply = _invite_text(who, context, created) if created else ""
    if outcome.problem:
        await message.reply_text(outcome.problem)
    elif created is not None:
        await _send_invite(update, context, reply, created)
    elif outcome.screen is not None:
        await show(update, outcome.screen)


# --- invites in chat ---------------------------------------------------------------------


async def _create(
    session: AsyncSession, who: Who, context: HuibaoContext, role: Role, *,
    school: School | None = None, district: District | None = None, replace: bool = False,
) -> tuple[CreatedInvite | None, str]:
    settings = context.services.settings
    try:
        targets = await resolve_targets(
            session,
            role,
            school_code=school.code if school else None,
            district_name=district.name if district else None,
            replace=replace,
        )
    except InviteError:
        return None, who._("This school or district cannot be invited to right now.")
    created = await create_invites(
        session,
        role,
        targets,
        expires_in=timedelta(days=settings.invites.expires_days),
        created_by=who.person.id,
        replace=replace,
    )
    return created[0], ""


def _invite_text(who: Who, context: HuibaoContext, created: CreatedInvite) -> str:
    settings = context.services.settings
    invite = created.invite
    what = invited_as(
        who._, invite.role, created.school, created.district,
        settings.bureau.name_in(who.language),
    )
    return invitation_text(
        who._,
        what,
        code=display(created.code),
        link=deep_link(context.bot.username, created.code),
        expires_at=invite.expires_at,
        tz=settings.bureau.tz,
        replaces_principal=invite.replaces_principal,
        language=who.language,
        now=context.now(),
    )


async def _send_invite(
    update: Update, context: HuibaoContext, text: str, created: CreatedInvite
) -> None:
    from outputs.invite_qr import invite_png

    message = update.effective_message
    assert message is not None
    await message.reply_text(text)
    link = deep_link(context.bot.username, created.code)
    try:
        await message.reply_photo(
            invite_png(
                link,
                created,
                bureau=context.services.settings.bureau.name,
                language=context.services.settings.bureau.default_language,
            ),
            caption=display(created.code),
            filename=f"invitation-{created.code}.png",
        )
    except TelegramError:
        log.warning("could not send the QR code", extra={"invite_id": created.invite.id})


async def _answer_invite(
    update: Update, context: HuibaoContext, who: Who, created: CreatedInvite | None, reply: str
) -> None:
    """An invite button's answer: the invitation, or stale when none could be made."""
    if created is None:
        await menu.stale(update, who)
        return
    assert update.callback_query is not None
    await update.callback_query.answer()
    await _send_invite(update, context, reply, created)


async def _principal(session: AsyncSession, school: School) -> Person | None:
    query = select(Person).where(
        Person.school_id == school.id, Person.role == Role.PRINCIPAL.value
    )
    return (await session.execute(query)).scalars().first()


async def _open_invite(
    session: AsyncSession, now: datetime, *, school: School | None = None,
    district: District | None = None,
) -> int:
    """The school's principal invitation (the code on its sheet), or the district's
    officer invitation, still usable, or 0: a new one revokes it
    (models.roster.invites.create_invites)."""
    where = (
        Invite.school_id == school.id
        if school is not None
        else Invite.district_id == (district.id if district is not None else 0)
    )
    role = Role.PRINCIPAL if school is not None else Role.DISTRICT_OFFICER
    query = (
        select(Invite.id)
        .where(
            where,
            Invite.role == role.value,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
            Invite.expires_at > now,
        )
        .order_by(Invite.id.desc())
        .limit(1)
    )
    return int((await session.execute(query)).scalar() or 0)


async def _open_principal_invite(session: AsyncSession, school: School, now: datetime) -> int:
    return await _open_invite(session, now, school=school)


async def _school_to_invite(
    session: AsyncSession, who: Who, school_id: int, kind: str
) -> School | None:
    """The school a principal or deputy may be invited to now, or None (stale button)."""
    school = await session.get(School, school_id)
    if not (staff_only(who) and school is not None and school.active and kind in SCHOOL_INVITES):
        return None
    # 'p' on a school that meanwhile got a principal would make a code nobody can use.
    if kind == "p" and await _principal(session, school) is not None:
        return None
    return school


async def _school_invite(
    session: AsyncSession, who: Who, context: HuibaoContext, school: School, kind: str
) -> CreatedInvite | None:
    role = Role.DEPUTY if kind == "d" else Role.PRINCIPAL
    created, _problem = await _create(session, who, context, role, school=school,
                                      replace=kind == "r")
    return created


async def _invite_question(
    session: AsyncSession, who: Who, school: School, kind: str, revokes: int
) -> Screen:
    _ = who._
    current = await _principal(session, school) if kind == "r" else None
    text = school_invite_question(
        _, school.name, revokes=bool(revokes),
        replaces=(current.name or "?") if current is not None else None,
    )
    rows = [[(_("Cancel"), SchoolCard(school.id).pack()),
             (_("Confirm"), ConfirmSchoolInvite(school.id, kind, revokes).pack())]]
    return Screen(text, rows)


async def on_invite_school(
    update: Update, context: HuibaoContext, button: InviteToSchool
) -> None:
    """A deputy's invitation is made at once; a principal's asks first when it revokes the
    code printed on the school's sheet, or replaces the current principal."""
    kind = button.kind
    question: Screen | None = None
    created: CreatedInvite | None = None
    async with unit(update, context) as (session, who):
        school = await _school_to_invite(session, who, button.school_id, kind)
        if school is not None:
            revokes = await _open_principal_invite(session, school, context.now())
            if kind == "r" or (kind == "p" and revokes):
                question = await _invite_question(session, who, school, kind, revokes)
            else:
                created = await _school_invite(session, who, context, school, kind)
        reply = _invite_text(who, context, created) if created else ""
    if question is not None:
        await show(update, question)
        return
    await _answer_invite(update, context, who, created, reply)


async def on_confirm_school_invite(
    update: Update, context: HuibaoContext, button: ConfirmSchoolInvite
) -> None:
    """Made only while the school's open invitation is still the one the question named:
    a second press (it revoked that one) or a stale question makes nothing, and says so."""
    created: CreatedInvite | None = None
    changed = False
    async with unit(update, context) as (session, who):
        school = await _school_to_invite(session, who, button.school_id, button.kind)
        if school is not None and button.kind in ("p", "r"):
            revokes = await _open_principal_invite(session, school, context.now())
            if revokes != button.revokes:
                changed = True
            else:
                created = await _school_invite(session, who, context, school, button.kind)
        reply = _invite_text(who, context, created) if created else ""
    query = update.callback_query
    assert query is not None
    if changed:
        back = [[(who._("« Back"), SchoolCard(button.school_id).pack())]]
        await show(update, Screen(invite_changed_text(who._), back))
        return
    if created is not None:
        # The question's buttons go: pressing Confirm again would revoke the new code.
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
    await _answer_invite(update, context, who, created, reply)


async def on_invite_district(
    update: Update, context: HuibaoContext, button: InviteDistrictOfficer
) -> None:
    """Asks first when the district still has an officer's code out: a new one revokes it."""
    question: Screen | None = None
    created: CreatedInvite | None = None
    async with unit(update, context) as (session, who):
        district = await session.get(District, button.district_id)
        if staff_only(who) and district is not None:
            revokes = await _open_invite(session, context.now(), district=district)
            if revokes:
                question = _district_question(who, district, revokes)
            else:
                created, _problem = await _create(
                    session, who, context, Role.DISTRICT_OFFICER, district=district
                )
        reply = _invite_text(who, context, created) if created else ""
    if question is not None:
        await show(update, question)
        return
    await _answer_invite(update, context, who, created, reply)


def _district_question(who: Who, district: District, revokes: int) -> Screen:
    _ = who._
    rows = [[(_("Cancel"), SchoolsPage(district.id, 0).pack()),
             (_("Confirm"), ConfirmDistrictInvite(district.id, revokes).pack())]]
    return Screen(district_invite_question(_, district.name), rows)


async def on_confirm_district_invite(
    update: Update, context: HuibaoContext, button: ConfirmDistrictInvite
) -> None:
    """Made only while the district's open invitation is the one the question named."""
    created: CreatedInvite | None = None
    changed = False
    async with unit(update, context) as (session, who):
        district = await session.get(District, button.district_id)
        if staff_only(who) and district is not None:
            revokes = await _open_invite(session, context.now(), district=district)
            changed = revokes != button.revokes
            if not changed:
                created, _problem = await _create(
                    session, who, context, Role.DISTRICT_OFFICER, district=district
                )
        reply = _invite_text(who, context, created) if created else ""
    if changed:
        back = [[(who._("« Back"), SchoolsPage(button.district_id, 0).pack())]]
        await show(update, Screen(invite_changed_text(who._), back))
        return
    if created is not None:
        query = update.callback_query
        assert query is not None
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
    await _answer_invite(update, context, who, created, reply)


async def on_invite_staff(update: Update, context: HuibaoContext, button: InviteStaff) -> None:
    async with unit(update, context) as (session, who):
        created = None
        if who.role is Role.ADMIN and button.page == 0:
            created, _problem = await _create(session, who, context, Role.STAFF)
        reply = _invite_text(who, context, created) if created else ""
    await _answer_invite(update, context, who, created, reply)
