"""/invite and the invite buttons of the school, district and staff screens: a code, its
link and its QR code, to forward to the person."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
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
    InviteError,
    create_invites,
    deep_link,
    display,
    resolve_targets,
)
from models.roster.roster_file import district_by_name, school_by_code
from models.roster.tables import District, Person, Role, School
from texts.admin import invitation_text, invite_help, invited_as
from texts.callbacks import InviteDistrictOfficer, InviteStaff, InviteToSchool
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
    session: AsyncSession,
    who: Who,
    context: HuibaoContext,
    role: Role,
    *,
    school: School | None = None,
    district: District | None = None,
    replace: bool = False,
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


async def _has_principal(session: AsyncSession, school: School) -> bool:
    query = select(Person.id).where(
        Person.school_id == school.id, Person.role == Role.PRINCIPAL.value
    )
    return (await session.execute(query)).first() is not None


async def on_invite_school(
    update: Update, context: HuibaoContext, button: InviteToSchool
) -> None:
    kind = button.kind
    async with unit(update, context) as (session, who):
        school = await session.get(School, button.school_id)
        created: CreatedInvite | None = None
        if staff_only(who) and school is not None and school.active and kind in SCHOOL_INVITES:
            # 'p' on a school that meanwhile got a principal would make a code nobody can use.
            if not (kind == "p" and await _has_principal(session, school)):
                role = Role.DEPUTY if kind == "d" else Role.PRINCIPAL
                created, _problem = await _create(
                    session, who, context, role, school=school, replace=kind == "r"
                )
        reply = _invite_text(who, context, created) if created else ""
    await _answer_invite(update, context, who, created, reply)


async def on_invite_district(
    update: Update, context: HuibaoContext, button: InviteDistrictOfficer
) -> None:
    async with unit(update, context) as (session, who):
        district = await session.get(District, button.district_id)
        created = None
        if staff_only(who) and district is not None:
            created, _problem = await _create(
                session, who, context, Role.DISTRICT_OFFICER, district=district
            )
        reply = _invite_text(who, context, created) if created else ""
    await _answer_invite(update, context, who, created, reply)


async def on_invite_staff(update: Update, context: HuibaoContext, button: InviteStaff) -> None:
    async with unit(update, context) as (session, who):
        created = None
        if who.role is Role.ADMIN and button.page == 0:
            created, _problem = await _create(session, who, context, Role.STAFF)
        reply = _invite_text(who, context, created) if created else ""
    await _answer_invite(update, context, who, created, reply)
