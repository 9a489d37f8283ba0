"""Staff in chat: /schools, /people and /invite, and the buttons behind them.

Every command and button here is registered through handlers.menu, so the role is read
from the database before anything runs and other roles get a polite refusal; the handlers
re-check it inside the transaction that acts. Button data is parsed defensively: anything
malformed, forged or out of date gets "this button is no longer valid".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import BadRequest, TelegramError

from handlers import menu
from handlers.context import Who, language_of, unit
from models.invites import (
    CreatedInvite,
    InviteError,
    create_invites,
    deep_link,
    display,
    resolve_targets,
)
from models.people import District, Person, Role, School
from models.persons import people_with_role, search_people, set_role
from models.roster import (
    RosterEntry,
    district_by_name,
    district_summaries,
    school_by_code,
    school_entry,
    schools_page,
)
from texts.i18n import N_, Gettext, gettext_for
from texts.labels import role_label, stage_label
from transport.context import HuibaoApp, HuibaoContext, Services

log = logging.getLogger("huibao.admin")

PER_PAGE = 8
MISSING_PER_PAGE = 12
SEARCH_LIMIT = 10

DISTRICTS = "adm:sd:"  # districts overview, page
SCHOOLS = "adm:sl:"  # schools of a district: district id, page
SCHOOL = "adm:ss:"  # one school's card: school id
PEOPLE = "adm:pp:"  # people overview
MISSING = "adm:pm:"  # schools without a principal: page
STAFF_LIST = "adm:st:"  # bureau staff
PERSON = "adm:pc:"  # one person's card: person id
UNBIND = "adm:ub:"  # ask to unbind: person id
UNBIND_YES = "adm:uy:"  # unbind: person id, school or district id it was bound to
MAKE_STAFF = "adm:mk:"  # person id (admins)
REMOVE_STAFF = "adm:rm:"  # person id (admins)
INVITE_SCHOOL = "adm:iv:"  # school id, p (principal) | r (replacing principal) | d (deputy)
INVITE_DISTRICT = "adm:id:"  # district id: a district officer invite
INVITE_STAFF = "adm:is:"  # a staff invite (admins)


@dataclass
class Screen:
    text: str
    rows: list[list[tuple[str, str]]] = field(default_factory=list)


def ints(data: str | None, prefix: str, count: int) -> list[int] | None:
    """The `count` integers after prefix, or None if the data is not exactly that."""
    if not data or not data.startswith(prefix):
        return None
    parts = data[len(prefix) :].split(":") if count else []
    if len(parts) != count and not (count == 0 and data == prefix):
        return None
    try:
        values = [int(p) for p in parts]
    except ValueError:
        return None
    return values if all(0 <= v < 2**31 for v in values) else None


def pager(prefix: str, page: int, total: int, per_page: int) -> list[tuple[str, str]]:
    pages = max(1, -(-total // per_page))
    row: list[tuple[str, str]] = []
    if page > 0:
        row.append(("◀", f"{prefix}{page - 1}"))
    if pages > 1:
        row.append((f"{page + 1}/{pages}", f"{prefix}{page}"))
    if page + 1 < pages:
        row.append(("▶", f"{prefix}{page + 1}"))
    return row


def person_text(person: Person) -> str:
    name = escape(person.name or "?")
    return f"{name} (@{escape(person.username)})" if person.username else name


def school_line(entry: RosterEntry, _: Gettext) -> str:
    principal = entry.principal
    who = person_text(principal) if principal else _("no principal yet")
    closed = "" if entry.school.active else " · " + _("closed")
    return (
        f"<code>{escape(entry.school.code)}</code> {escape(entry.school.name)} · "
        f"{stage_label(entry.school.stage, _)}{closed} · {who}"
    )


def home_row(_: Gettext) -> list[tuple[str, str]]:
    return [(_("« Menu"), menu.HOME)]


# --- screens (pure reads) ----------------------------------------------------------------


async def districts_screen(session: AsyncSession, who: Who, page: int) -> Screen | None:
    _ = who._
    summaries = await district_summaries(session)
    pages = max(1, -(-len(summaries) // PER_PAGE))
    if page >= pages:
        return None
    schools = sum(s.schools for s in summaries)
    connected = sum(s.with_principal for s in summaries)
    lines = [
        _("<b>Schools by district</b>"),
        _("{schools} open schools, {connected} with a principal connected.").format(
            schools=schools, connected=connected
        ),
        _("To find a school, send /schools and part of its name or code."),
    ]
    if not summaries:
        lines.append(_("The roster is empty: import it with `huibao schools import FILE`."))
    rows = [
        [
            (
                f"{s.district.name} · {s.with_principal}/{s.schools}",
                f"{SCHOOLS}{s.district.id}:0",
            )
        ]
        for s in summaries[page * PER_PAGE : (page + 1) * PER_PAGE]
    ]
    nav = pager(DISTRICTS, page, len(summaries), PER_PAGE)
    if nav:
        rows.append(nav)
    rows.append(home_row(_))
    return Screen("\n".join(lines), rows)


async def schools_screen(
    session: AsyncSession, who: Who, district_id: int, page: int
) -> Screen | None:
    _ = who._
    district = await session.get(District, district_id)
    if district is None:
        return None
    entries, total = await schools_page(
        session, district_id=district_id, page=page, per_page=PER_PAGE
    )
    if not entries and page > 0:
        return None
    lines = [
        _("<b>{district}</b>: {count} schools").format(
            district=escape(district.name), count=total
        ),
        *(school_line(e, _) for e in entries),
    ]
    rows = [[(f"{e.school.code} {e.school.name}", f"{SCHOOL}{e.school.id}")] for e in entries]
    nav = pager(f"{SCHOOLS}{district_id}:", page, total, PER_PAGE)
    if nav:
        rows.append(nav)
    rows.append([(_("Invite a district officer"), f"{INVITE_DISTRICT}{district_id}")])
    rows.append([(_("« Districts"), f"{DISTRICTS}0")])
    return Screen("\n".join(lines), rows)


async def search_screen(session: AsyncSession, who: Who, text: str) -> Screen:
    _ = who._
    entries, total = await schools_page(session, search=text, per_page=SEARCH_LIMIT)
    if not entries:
        return Screen(
            _("No school matches “{text}”. Try part of the name or the code.").format(
                text=escape(text)
            ),
            [[(_("Schools by district"), f"{DISTRICTS}0")]],
        )
    lines = [
        _("<b>Schools matching “{text}”</b>").format(text=escape(text)),
        *(school_line(e, _) for e in entries),
    ]
    if total > len(entries):
        lines.append(
            _("… and {more} more: add more of the name or code.").format(
                more=total - len(entries)
            )
        )
    rows = [[(f"{e.school.code} {e.school.name}", f"{SCHOOL}{e.school.id}")] for e in entries]
    return Screen("\n".join(lines), rows)


async def school_screen(session: AsyncSession, who: Who, school_id: int) -> Screen | None:
    _ = who._
    entry = await school_entry(session, school_id)
    if entry is None:
        return None
    school, principal = entry.school, entry.principal
    lines = [
        f"<b>{escape(school.name)}</b>",
        _("Code: {code}").format(code=f"<code>{escape(school.code)}</code>"),
        _("District: {district}").format(district=escape(entry.district.name)),
        _("Stage: {stage}").format(stage=stage_label(school.stage, _)),
        _("Status: {status}").format(status=_("open") if school.active else _("closed")),
        _("Principal: {person}").format(
            person=person_text(principal) if principal else _("no principal yet")
        ),
    ]
    if entry.deputies:
        lines.append(
            _("Deputies / data clerks: {people}").format(
                people=", ".join(person_text(p) for p in entry.deputies)
            )
        )
    rows: list[list[tuple[str, str]]] = []
    if school.active:
        if principal is None:
            rows.append([(_("Invite the principal"), f"{INVITE_SCHOOL}{school.id}:p")])
        else:
            rows.append(
                [(_("Invite a new principal (replaces)"), f"{INVITE_SCHOOL}{school.id}:r")]
            )
        rows.append([(_("Invite a deputy / data clerk"), f"{INVITE_SCHOOL}{school.id}:d")])
    for person in entry.contacts:
        rows.append(
            [
                (
                    _("Unbind {name}").format(name=person.name or "?"),
                    f"{UNBIND}{person.id}",
                )
            ]
        )
    rows.append([(_("« {district}").format(district=entry.district.name),
                  f"{SCHOOLS}{entry.district.id}:0")])
    return Screen("\n".join(lines), rows)


async def people_screen(session: AsyncSession, who: Who) -> Screen:
    _ = who._
    summaries = await district_summaries(session)
    schools = sum(s.schools for s in summaries)
    connected = sum(s.with_principal for s in summaries)
    staff = await people_with_role(session, Role.STAFF, Role.ADMIN)
    deputies = int(
        (
            await session.execute(
                select(func.count(Person.id)).where(Person.role == Role.DEPUTY.value)
            )
        ).scalar_one()
    )
    officers = int(
        (
            await session.execute(
                select(func.count(Person.id)).where(Person.role == Role.DISTRICT_OFFICER.value)
            )
        ).scalar_one()
    )
    lines = [
        _("<b>People</b>"),
        _("Principals connected: {connected} of {schools} open schools.").format(
            connected=connected, schools=schools
        ),
        _("Deputies / data clerks: {deputies}. District officers: {officers}. "
          "Bureau staff: {staff}.").format(deputies=deputies, officers=officers, staff=len(staff)),
    ]
    missing = [s for s in summaries if s.without_principal]
    if missing:
        lines.append("")
        lines.append(_("<b>Schools without a principal, by district</b>"))
        lines.extend(f"{escape(s.district.name)}: {s.without_principal}" for s in missing)
    lines.append("")
    lines.append(_("To find someone, send /people and part of their name, @username or school."))
    rows: list[list[tuple[str, str]]] = []
    if missing:
        rows.append([(_("Schools without a principal"), f"{MISSING}0")])
    rows.append([(_("Bureau staff"), f"{STAFF_LIST}0")])
    rows.append(home_row(_))
    return Screen("\n".join(lines), rows)


async def missing_screen(session: AsyncSession, who: Who, page: int) -> Screen | None:
    _ = who._
    entries, total = await schools_page(
        session, without_principal=True, page=page, per_page=MISSING_PER_PAGE
    )
    if not entries and page > 0:
        return None
    entries.sort(key=lambda e: (e.district.name, e.school.code))
    lines = [_("<b>Schools without a principal</b>: {count}").format(count=total)]
    current = None
    for entry in entries:
        if entry.district.name != current:
            current = entry.district.name
            lines.append(f"<b>{escape(current)}</b>")
        lines.append(f"  <code>{escape(entry.school.code)}</code> {escape(entry.school.name)}")
    rows = [[(f"{e.school.code} {e.school.name}", f"{SCHOOL}{e.school.id}")] for e in entries]
    nav = pager(MISSING, page, total, MISSING_PER_PAGE)
    if nav:
        rows.append(nav)
    rows.append([(_("« People"), f"{PEOPLE}0")])
    return Screen("\n".join(lines), rows)


async def staff_screen(session: AsyncSession, who: Who) -> Screen:
    _ = who._
    staff = await people_with_role(session, Role.STAFF, Role.ADMIN)
    lines = [_("<b>Bureau staff</b>")]
    lines.extend(f"{person_text(p)} · {role_label(p.role, _)}" for p in staff)
    rows: list[list[tuple[str, str]]] = []
    if who.role is Role.ADMIN:
        lines.append("")
        lines.append(
            _("To make someone staff, find them with /people and a name, and open their card.")
        )
        for person in staff:
            if person.role == Role.STAFF.value:
                rows.append(
                    [(_("Remove {name} from staff").format(name=person.name or "?"),
                      f"{REMOVE_STAFF}{person.id}")]
                )
        rows.append([(_("Invite a staff member"), f"{INVITE_STAFF}0")])
    rows.append([(_("« People"), f"{PEOPLE}0")])
    return Screen("\n".join(lines), rows)


async def binding_text(session: AsyncSession, person: Person, _: Gettext) -> str:
    role = role_label(person.role, _)
    if person.school_id is not None:
        school = await session.get(School, person.school_id)
        if school is not None:
            return _("{role} of {school}").format(role=role, school=escape(school.name))
    if person.district_id is not None:
        district = await session.get(District, person.district_id)
        if district is not None:
            return _("{role} of {district}").format(role=role, district=escape(district.name))
    return role


async def person_screen(session: AsyncSession, who: Who, person_id: int) -> Screen | None:
    _ = who._
    person = await session.get(Person, person_id)
    if person is None:
        return None
    lines = [
        f"<b>{person_text(person)}</b>",
        _("Telegram id: {id}").format(id=person.telegram_id),
        _("Role: {role}").format(role=await binding_text(session, person, _)),
    ]
    if not person.reachable:
        lines.append(_("Has blocked the bot: messages do not reach them."))
    rows: list[list[tuple[str, str]]] = []
    if person.school_id is not None or person.district_id is not None:
        rows.append([(_("Unbind"), f"{UNBIND}{person.id}")])
    if who.role is Role.ADMIN and person.id != who.person.id:
        if person.role == Role.STAFF.value:
            rows.append([(_("Remove from staff"), f"{REMOVE_STAFF}{person.id}")])
        elif person.role != Role.ADMIN.value:
            rows.append([(_("Make bureau staff"), f"{MAKE_STAFF}{person.id}")])
    rows.append([(_("« People"), f"{PEOPLE}0")])
    return Screen("\n".join(lines), rows)


async def people_search_screen(session: AsyncSession, who: Who, text: str) -> Screen:
    _ = who._
    found = await search_people(session, text, limit=SEARCH_LIMIT)
    if not found:
        return Screen(
            _("Nobody matches “{text}”. Try part of a name, an @username or a school.").format(
                text=escape(text)
            ),
            [[(_("« People"), f"{PEOPLE}0")]],
        )
    lines = [_("<b>People matching “{text}”</b>").format(text=escape(text))]
    for person in found:
        lines.append(f"{person_text(person)} · {await binding_text(session, person, _)}")
    rows = [[(person.name or str(person.telegram_id), f"{PERSON}{person.id}")] for person in found]
    return Screen("\n".join(lines), rows)


# --- showing -----------------------------------------------------------------------------


async def show(update: Update, screen: Screen, *, new_message: bool = False) -> None:
    markup = menu.keyboard(screen.rows)
    query = update.callback_query
    if query is not None and not new_message:
        await query.answer()
        try:
            await query.edit_message_text(screen.text, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        return
    message = update.effective_message
    assert message is not None
    if query is not None:
        await query.answer()
    await message.reply_text(screen.text, reply_markup=markup)


def staff_only(who: Who, roles: frozenset[Role] = menu.STAFF) -> bool:
    """The role check again, inside the transaction that acts on it."""
    return who.role in roles


# --- commands ----------------------------------------------------------------------------


def _argument(context: HuibaoContext) -> str:
    return " ".join(context.args or []).strip()


async def schools_command(update: Update, context: HuibaoContext) -> None:
    text = _argument(context)
    async with unit(update, context) as (session, who):
        if not staff_only(who):
            screen = None
        elif text:
            screen = await search_screen(session, who, text[:60])
        else:
            screen = await districts_screen(session, who, 0)
    if screen is None:
        await menu.refuse(update, menu.refusal(who, menu.STAFF))
        return
    await show(update, screen)


async def people_command(update: Update, context: HuibaoContext) -> None:
    text = _argument(context)
    async with unit(update, context) as (session, who):
        if not staff_only(who):
            screen = None
        elif text:
            screen = await people_search_screen(session, who, text[:60])
        else:
            screen = await people_screen(session, who)
    if screen is None:
        await menu.refuse(update, menu.refusal(who, menu.STAFF))
        return
    await show(update, screen)


async def invite_command(update: Update, context: HuibaoContext) -> None:
    text = _argument(context)
    message = update.effective_message
    assert message is not None
    words = text.split(maxsplit=1)
    async with unit(update, context) as (session, who):
        _ = who._
        screen: Screen | None = None
        created: CreatedInvite | None = None
        problem = ""
        if not staff_only(who):
            problem = menu.refusal(who, menu.STAFF)
        elif not text:
            screen = Screen(
                "\n".join(
                    [
                        _("<b>Invitations</b>"),
                        _("/invite CODE: invite the principal or a deputy of a school"),
                        _("/invite NAME: find a school by part of its name"),
                        _("/invite district NAME: invite a district officer"),
                        _("/invite staff: invite a bureau staff member (administrators)"),
                        _(
                            "To invite every school at once, use `huibao invites create --all "
                            "--xlsx invitations.xlsx` on the server: it makes a printable sheet "
                            "with QR codes."
                        ),
                    ]
                )
            )
        elif words[0].lower() == "staff" and len(words) == 1:
            if who.role is not Role.ADMIN:
                problem = menu.refusal(who, menu.ADMIN)
            else:
                created, problem = await _create(session, who, context, Role.STAFF)
        elif words[0].lower() == "district" and len(words) == 2:
            district = await district_by_name(session, words[1])
            if district is None:
                problem = _("No district is called “{name}”.").format(name=escape(words[1]))
            else:
                created, problem = await _create(
                    session, who, context, Role.DISTRICT_OFFICER, district=district
                )
        else:
            school = await school_by_code(session, text)
            if school is not None:
                screen = await school_screen(session, who, school.id)
            else:
                screen = await search_screen(session, who, text[:60])
        reply = _invite_text(who, context, created) if created else ""
    if problem:
        await message.reply_text(problem)
    elif created is not None:
        await _send_invite(update, context, reply, created)
    elif screen is not None:
        await show(update, screen)


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
    _ = who._
    settings = context.services.settings
    role = role_label(created.invite.role, _)
    if created.school is not None and created.district is not None:
        what = _("{role} of <b>{school}</b>, {district}").format(
            role=role, school=escape(created.school.name), district=escape(created.district.name)
        )
    elif created.district is not None:
        what = _("{role} of <b>{district}</b>").format(
            role=role, district=escape(created.district.name)
        )
    else:
        what = _("{role} of <b>{bureau}</b>").format(role=role, bureau=escape(settings.bureau.name))
    lines = [
        _("Invitation: {what}").format(what=what),
        _("Code: {code}").format(code=f"<code>{display(created.code)}</code>"),
        _("Link: {link}").format(link=deep_link(context.bot.username, created.code)),
        _("Valid until {time}, and only once.").format(
            time=created.invite.expires_at.astimezone(settings.bureau.tz).strftime(
                "%Y-%m-%d %H:%M"
            )
        ),
    ]
    if created.invite.replaces_principal:
        lines.append(_("When it is used, the school's current principal is unbound."))
    lines.append(
        _("Forward this message to the person, or let them scan the QR code with their phone.")
    )
    return "\n".join(lines)


async def _send_invite(
    update: Update, context: HuibaoContext, text: str, created: CreatedInvite
) -> None:
    from outputs.roster_files import qr_png

    message = update.effective_message
    assert message is not None
    await message.reply_text(text)
    link = deep_link(context.bot.username, created.code)
    try:
        await message.reply_photo(
            qr_png(link, box_size=8),
            caption=display(created.code),
            filename=f"invitation-{created.code}.png",
        )
    except TelegramError:
        log.warning("could not send the QR code", extra={"invite_id": created.invite.id})


async def on_invite_school(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    match = re.fullmatch(rf"{INVITE_SCHOOL}(\d{{1,9}}):([prd])", query.data or "")
    school_id, kind = (int(match.group(1)), match.group(2)) if match else (None, "")
    async with unit(update, context) as (session, who):
        school = await session.get(School, school_id) if school_id is not None else None
        created: CreatedInvite | None = None
        if staff_only(who) and school is not None and school.active and kind in ("p", "r", "d"):
            has_principal = (
                await session.execute(
                    select(Person.id).where(
                        Person.school_id == school.id, Person.role == Role.PRINCIPAL.value
                    )
                )
            ).first() is not None
            # 'p' on a school that meanwhile got a principal would make a code nobody can use.
            if not (kind == "p" and has_principal):
                role = Role.DEPUTY if kind == "d" else Role.PRINCIPAL
                created, _problem = await _create(
                    session, who, context, role, school=school, replace=kind == "r"
                )
        reply = _invite_text(who, context, created) if created else ""
    if created is None:
        await menu.stale(update, who)
        return
    await query.answer()
    await _send_invite(update, context, reply, created)


async def on_invite_district(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    values = ints(query.data, INVITE_DISTRICT, 1)
    async with unit(update, context) as (session, who):
        district = await session.get(District, values[0]) if values else None
        created = None
        if staff_only(who) and district is not None:
            created, _problem = await _create(
                session, who, context, Role.DISTRICT_OFFICER, district=district
            )
        reply = _invite_text(who, context, created) if created else ""
    if created is None:
        await menu.stale(update, who)
        return
    await query.answer()
    await _send_invite(update, context, reply, created)


async def on_invite_staff(update: Update, context: HuibaoContext) -> None:
    query = update.callback_query
    assert query is not None
    async with unit(update, context) as (session, who):
        created = None
        if who.role is Role.ADMIN and ints(query.data, INVITE_STAFF, 1) == [0]:
            created, _problem = await _create(session, who, context, Role.STAFF)
        reply = _invite_text(who, context, created) if created else ""
    if created is None:
        await menu.stale(update, who)
        return
    await query.answer()
    await _send_invite(update, context, reply, created)


# --- buttons that show screens -----------------------------------------------------------


async def on_districts(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, DISTRICTS, 1)
    async with unit(update, context) as (session, who):
        screen = await districts_screen(session, who, values[0]) if values else None
    await _show_or_stale(update, who, screen)


async def on_schools(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, SCHOOLS, 2)
    async with unit(update, context) as (session, who):
        screen = await schools_screen(session, who, *values) if values else None
    await _show_or_stale(update, who, screen)


async def on_school(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, SCHOOL, 1)
    async with unit(update, context) as (session, who):
        screen = await school_screen(session, who, values[0]) if values else None
    await _show_or_stale(update, who, screen)


async def on_people(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, PEOPLE, 1)
    async with unit(update, context) as (session, who):
        screen = await people_screen(session, who) if values == [0] else None
    await _show_or_stale(update, who, screen)


async def on_missing(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, MISSING, 1)
    async with unit(update, context) as (session, who):
        screen = await missing_screen(session, who, values[0]) if values else None
    await _show_or_stale(update, who, screen)


async def on_staff(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, STAFF_LIST, 1)
    async with unit(update, context) as (session, who):
        screen = await staff_screen(session, who) if values == [0] else None
    await _show_or_stale(update, who, screen)


async def on_person(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, PERSON, 1)
    async with unit(update, context) as (session, who):
        screen = await person_screen(session, who, values[0]) if values else None
    await _show_or_stale(update, who, screen)


async def _show_or_stale(update: Update, who: Who, screen: Screen | None) -> None:
    if screen is None or not staff_only(who):
        await menu.stale(update, who)
        return
    await show(update, screen)


# --- buttons that change things ----------------------------------------------------------


def _bound_to(person: Person) -> int | None:
    if person.role in (Role.PRINCIPAL.value, Role.DEPUTY.value):
        return person.school_id
    if person.role == Role.DISTRICT_OFFICER.value:
        return person.district_id
    return None


async def on_unbind(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, UNBIND, 1)
    async with unit(update, context) as (session, who):
        _ = who._
        person = await session.get(Person, values[0]) if values else None
        screen = None
        if staff_only(who) and person is not None and _bound_to(person) is not None:
            screen = Screen(
                _("Unbind {person}, {binding}? They will no longer see or answer for it.").format(
                    person=person_text(person), binding=await binding_text(session, person, _)
                ),
                [
                    [
                        (_("Yes, unbind"), f"{UNBIND_YES}{person.id}:{_bound_to(person)}"),
                        (_("No"), f"{PERSON}{person.id}"),
                    ]
                ],
            )
    await _show_or_stale(update, who, screen)


async def on_unbind_yes(update: Update, context: HuibaoContext) -> None:
    values = ints(update.callback_query.data if update.callback_query else None, UNBIND_YES, 2)
    async with unit(update, context) as (session, who):
        _ = who._
        person = await session.get(Person, values[0]) if values else None
        screen, affected, was = None, None, ""
        # The binding must still be the one the button was made for: a stale button must
        # not unbind someone who was bound again since.
        if staff_only(who) and person is not None and values and _bound_to(person) == values[1]:
            was = await binding_text(session, person, _)
            await set_role(
                session, person, Role.NONE, actor_id=who.person.id, reason="unbound by staff"
            )
            screen = Screen(
                _("{person} is no longer {binding}.").format(
                    person=person_text(person), binding=was
                ),
                [[(_("« People"), f"{PEOPLE}0")]],
            )
            affected = person
    if screen is None or affected is None:
        await menu.stale(update, who)
        return
    await show(update, screen)
    await _tell(
        context,
        affected,
        N_("The bureau has disconnected you from {binding}. If this is a mistake, please "
           "contact the bureau."),
        binding_of=was,
    )


async def _change_staff(update: Update, context: HuibaoContext, make: bool) -> None:
    prefix = MAKE_STAFF if make else REMOVE_STAFF
    values = ints(update.callback_query.data if update.callback_query else None, prefix, 1)
    async with unit(update, context) as (session, who):
        _ = who._
        person = await session.get(Person, values[0]) if values else None
        screen, affected = None, None
        allowed = (
            who.role is Role.ADMIN
            and person is not None
            and person.id != who.person.id
            and (
                person.role not in (Role.STAFF.value, Role.ADMIN.value)
                if make
                else person.role == Role.STAFF.value
            )
        )
        if allowed and person is not None:
            await set_role(
                session,
                person,
                Role.STAFF if make else Role.NONE,
                actor_id=who.person.id,
                reason="made staff by an admin" if make else "removed from staff by an admin",
            )
            text = (
                _("{person} is now bureau staff.") if make else _("{person} is no longer staff.")
            ).format(person=person_text(person))
            screen = Screen(text, [[(_("« Bureau staff"), f"{STAFF_LIST}0")]])
            affected = person
    if screen is None or affected is None:
        await menu.stale(update, who)
        return
    await show(update, screen)
    await _tell(
        context,
        affected,
        N_("You are now bureau staff. Send /menu to see what you can do.")
        if make
        else N_("You are no longer bureau staff in this bot."),
    )


async def on_make_staff(update: Update, context: HuibaoContext) -> None:
    await _change_staff(update, context, True)


async def on_remove_staff(update: Update, context: HuibaoContext) -> None:
    await _change_staff(update, context, False)


async def _tell(
    context: HuibaoContext, person: Person, message: str, *, binding_of: str = ""
) -> None:
    """Tell someone their role changed and give them the matching commands (best effort)."""
    language = language_of(person, person.telegram_language, context.services.settings)
    _ = gettext_for(language)
    await menu.refresh_commands(context.bot, person.telegram_id, Role(person.role), language)
    try:
        await context.bot.send_message(person.telegram_id, _(message).format(binding=binding_of))
    except TelegramError:
        pass  # blocked the bot or never opened it; the audit log has the change


# --- /menu section -----------------------------------------------------------------------


async def render_staff(session: AsyncSession, who: Who, services: Services) -> menu.Block:
    _ = who._
    summaries = await district_summaries(session)
    schools = sum(s.schools for s in summaries)
    connected = sum(s.with_principal for s in summaries)
    return menu.Block(
        [
            _("Principals connected: {connected} of {schools} open schools.").format(
                connected=connected, schools=schools
            )
        ],
        [[(_("Schools"), f"{DISTRICTS}0"), (_("People"), f"{PEOPLE}0")]],
    )


def register(app: HuibaoApp) -> None:
    staff, admin = menu.STAFF, menu.ADMIN
    menu.add_command(app, "schools", schools_command, N_("Schools by district, search"), staff,
                     order=50)
    menu.add_command(app, "people", people_command, N_("Who is connected where"), staff, order=51)
    menu.add_command(app, "invite", invite_command, N_("Invite a principal, deputy or staff"),
                     staff, order=52)
    callbacks: Sequence[tuple[str, object, frozenset[Role], str]] = (
        (DISTRICTS, on_districts, staff, f"{DISTRICTS}0"),
        (SCHOOLS, on_schools, staff, f"{SCHOOLS}1:0"),
        (SCHOOL, on_school, staff, f"{SCHOOL}1"),
        (PEOPLE, on_people, staff, f"{PEOPLE}0"),
        (MISSING, on_missing, staff, f"{MISSING}0"),
        (STAFF_LIST, on_staff, staff, f"{STAFF_LIST}0"),
        (PERSON, on_person, staff, f"{PERSON}1"),
        (UNBIND, on_unbind, staff, f"{UNBIND}1"),
        (UNBIND_YES, on_unbind_yes, staff, f"{UNBIND_YES}1:1"),
        (MAKE_STAFF, on_make_staff, admin, f"{MAKE_STAFF}1"),
        (REMOVE_STAFF, on_remove_staff, admin, f"{REMOVE_STAFF}1"),
        (INVITE_SCHOOL, on_invite_school, staff, f"{INVITE_SCHOOL}1:p"),
        (INVITE_DISTRICT, on_invite_district, staff, f"{INVITE_DISTRICT}1"),
        (INVITE_STAFF, on_invite_staff, admin, f"{INVITE_STAFF}0"),
    )
    for prefix, callback, roles, example in callbacks:
        menu.add_callback(app, prefix, callback, roles, example=example)  # type: ignore[arg-type]
    menu.add_section(menu.Section("admin.schools_people", staff, render_staff, order=50))
