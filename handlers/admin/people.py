"""/people: who is connected where, a person's card, unbinding, and making or removing
bureau staff (administrators)."""

from __future__ import annotations

from html import escape

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import TelegramError

from handlers import menu
from handlers.admin.schools import school_rows
from handlers.admin.screen import (
    MISSING_PER_PAGE,
    SEARCH_LIMIT,
    Rows,
    Screen,
    home_row,
    pager,
    search_command,
    show,
    show_or_stale,
    staff_only,
)
from handlers.context import Who, unit
from models.roster.order import school_key
from models.roster.people import people_with_role, search_people, set_role
from models.roster.roster_file import district_summaries, schools_page
from models.roster.tables import District, Person, Role, School
from texts.admin import (
    missing_principals_text,
    people_text,
    person_card,
    person_text,
    remove_staff_question_text,
    staff_already_removed_text,
    staff_text,
)
from texts.callbacks import (
    AskUnbind,
    ConfirmRemoveStaff,
    InviteStaff,
    MakeStaff,
    MissingPrincipalsPage,
    PeopleOverview,
    PersonCard,
    RemoveStaff,
    StaffList,
    Unbind,
)
from texts.i18n import N_, Gettext, gettext_for, language_of
from texts.labels import role_label
from transport.context import HuibaoContext


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


def _back_to_people(_: Gettext) -> list[tuple[str, str]]:
    return [(_("« People"), PeopleOverview(0).pack())]


# --- screens (pure reads) ----------------------------------------------------------------


async def _count_with_role(session: AsyncSession, role: Role) -> int:
    query = select(func.count(Person.id)).where(Person.role == role.value)
    return int((await session.execute(query)).scalar_one())


async def people_screen(session: AsyncSession, who: Who) -> Screen:
    _ = who._
    summaries = await district_summaries(session)
    staff = await people_with_role(session, Role.STAFF, Role.ADMIN)
    text = people_text(
        _,
        summaries,
        deputies=await _count_with_role(session, Role.DEPUTY),
        officers=await _count_with_role(session, Role.DISTRICT_OFFICER),
        staff=len(staff),
    )
    rows: Rows = []
    if any(s.without_principal for s in summaries):
        rows.append([(_("Schools without a principal"), MissingPrincipalsPage(0).pack())])
    rows.append([(_("Bureau staff"), StaffList(0).pack())])
    rows.append(home_row(_))
    return Screen(text, rows)


async def missing_screen(session: AsyncSession, who: Who, page: int) -> Screen | None:
    _ = who._
    entries, total = await schools_page(
        session, without_principal=True, page=page, per_page=MISSING_PER_PAGE
    )
    if not entries and page > 0:
        return None
    entries.sort(key=lambda e: school_key(e.district.name, e.school.name, e.school.code))
    rows = school_rows(entries)
    rows += pager(MissingPrincipalsPage, page, total, MISSING_PER_PAGE)
    rows.append(_back_to_people(_))
    return Screen(missing_principals_text(_, entries, total), rows)


async def staff_screen(session: AsyncSession, who: Who) -> Screen:
    _ = who._
    staff = await people_with_role(session, Role.STAFF, Role.ADMIN)
    rows: Rows = []
    if who.role is Role.ADMIN:
        for person in staff:
            if person.role == Role.STAFF.value:
                rows.append(
                    [(_("Remove {name} from staff").format(name=person.name or "?"),
                      RemoveStaff(person.id).pack())]
                )
        rows.append([(_("Invite a staff member"), InviteStaff(0).pack())])
    rows.append(_back_to_people(_))
    return Screen(staff_text(_, staff, for_admin=who.role is Role.ADMIN), rows)


def _person_rows(who: Who, person: Person) -> Rows:
    _ = who._
    rows: Rows = []
    if person.school_id is not None or person.district_id is not None:
        rows.append([(_("Unbind"), AskUnbind(person.id).pack())])
    if who.role is Role.ADMIN and person.id != who.person.id:
        if person.role == Role.STAFF.value:
            rows.append([(_("Remove from staff"), RemoveStaff(person.id).pack())])
        elif person.role != Role.ADMIN.value:
            rows.append([(_("Make bureau staff"), MakeStaff(person.id).pack())])
    rows.append(_back_to_people(_))
    return rows


async def person_screen(session: AsyncSession, who: Who, person_id: int) -> Screen | None:
    _ = who._
    person = await session.get(Person, person_id)
    if person is None:
        return None
    card = person_card(_, person, await binding_text(session, person, _))
    return Screen(card, _person_rows(who, person))


async def people_search_screen(session: AsyncSession, who: Who, text: str) -> Screen:
    _ = who._
    found = await search_people(session, text, limit=SEARCH_LIMIT)
    if not found:
        return Screen(
            _("Nobody matches “{text}”. Try part of a name, an @username or a school.").format(
                text=escape(text)
            ),
            [_back_to_people(_)],
        )
    lines = [_("<b>People matching “{text}”</b>").format(text=escape(text))]
    for person in found:
        lines.append(f"{person_text(person)} · {await binding_text(session, person, _)}")
    rows = [
        [(person.name or str(person.telegram_id), PersonCard(person.id).pack())]
        for person in found
    ]
    return Screen("\n".join(lines), rows)


def bound_to(person: Person) -> int | None:
    """The school or district a person answers for, if any."""
    if person.role in (Role.PRINCIPAL.value, Role.DEPUTY.value):
        return person.school_id
    if person.role == Role.DISTRICT_OFFICER.value:
        return person.district_id
    return None


async def unbind_question_screen(
    session: AsyncSession, who: Who, person_id: int
) -> Screen | None:
    _ = who._
    person = await session.get(Person, person_id)
    binding = bound_to(person) if person is not None else None
    if person is None or binding is None:
        return None
    return Screen(
        _("Unbind {person}, {binding}? They will no longer see or answer for it.").format(
            person=person_text(person), binding=await binding_text(session, person, _)
        ),
        [
            [
                (_("Yes, unbind"), Unbind(person.id, binding).pack()),
                (_("No"), PersonCard(person.id).pack()),
            ]
        ],
    )


# --- /people -----------------------------------------------------------------------------


async def people_command(update: Update, context: HuibaoContext) -> None:
    await search_command(update, context, people_search_screen, people_screen)


# --- buttons that change things ----------------------------------------------------------


async def on_unbind(update: Update, context: HuibaoContext, button: Unbind) -> None:
    async with unit(update, context) as (session, who):
        _ = who._
        person = await session.get(Person, button.person_id)
        screen, affected, was = None, None, ""
        # The binding must still be the one the button was made for: a stale button must
        # not unbind someone who was bound again since.
        if staff_only(who) and person is not None and bound_to(person) == button.bound_to:
            was = await binding_text(session, person, _)
            await set_role(
                session, person, Role.NONE, actor_id=who.person.id, reason="unbound by staff"
            )
            screen = Screen(
                _("{person} is no longer {binding}.").format(
                    person=person_text(person), binding=was
                ),
                [_back_to_people(_)],
            )
            affected = person
    told = N_(
        "The bureau has disconnected you from {binding}. If this is a mistake, please "
        "contact the bureau."
    )
    await _show_and_tell(update, context, who, screen, affected, told, binding_of=was)


def _may_change_staff(who: Who, person: Person | None, make: bool) -> bool:
    """Only admins, never on themselves; make someone who is not staff yet, or remove
    someone who is staff (not an admin)."""
    if who.role is not Role.ADMIN or person is None or person.id == who.person.id:
        return False
    if make:
        return person.role not in (Role.STAFF.value, Role.ADMIN.value)
    return person.role == Role.STAFF.value


async def on_make_staff(update: Update, context: HuibaoContext, button: MakeStaff) -> None:
    await _change_staff(update, context, button.person_id, make=True)


async def remove_staff_question(session: AsyncSession, who: Who, person_id: int) -> Screen | None:
    """Asks before someone stops being staff (one tap used to do it)."""
    _ = who._
    person = await session.get(Person, person_id)
    if person is None or not _may_change_staff(who, person, make=False):
        return None
    return Screen(
        remove_staff_question_text(_, person_text(person)),
        [[(_("Cancel"), StaffList(0).pack()),
          (_("Confirm"), ConfirmRemoveStaff(person.id).pack())]],
    )


async def on_remove_staff(update: Update, context: HuibaoContext, button: RemoveStaff) -> None:
    async with unit(update, context) as (session, who):
        screen = await remove_staff_question(session, who, button.person_id)
    await show_or_stale(update, who, screen)


async def on_confirm_remove_staff(
    update: Update, context: HuibaoContext, button: ConfirmRemoveStaff
) -> None:
    await _change_staff(update, context, button.person_id, make=False)


async def _change_staff(
    update: Update, context: HuibaoContext, person_id: int, *, make: bool
) -> None:
    already: Screen | None = None
    async with unit(update, context) as (session, who):
        _ = who._
        person = await session.get(Person, person_id)
        screen, affected = None, None
        if not make and who.role is Role.ADMIN and person is not None and (
            person.role != Role.STAFF.value and person.role != Role.ADMIN.value
        ):
            # A second press of the confirmation, or one left from before: said, not done.
            already = Screen(
                staff_already_removed_text(_, person_text(person)),
                [[(_("« Bureau staff"), StaffList(0).pack())]],
            )
        elif _may_change_staff(who, person, make) and person is not None:
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
            screen = Screen(text, [[(_("« Bureau staff"), StaffList(0).pack())]])
            affected = person
    told = (
        N_("You are now bureau staff. Send /menu to see what you can do.")
        if make
        else N_("You are no longer bureau staff in this bot.")
    )
    if already is not None:
        await show(update, already)
        return
    await _show_and_tell(update, context, who, screen, affected, told)


async def _show_and_tell(
    update: Update,
    context: HuibaoContext,
    who: Who,
    screen: Screen | None,
    affected: Person | None,
    message: str,
    *,
    binding_of: str = "",
) -> None:
    """After a change of someone's role: the staff member sees the result (or, when the
    button no longer applied, the stale answer), then the person is told."""
    if screen is None or affected is None:
        await menu.stale(update, who)
        return
    await show(update, screen)
    await _tell(context, affected, message, binding_of=binding_of)


async def _tell(
    context: HuibaoContext, person: Person, message: str, *, binding_of: str = ""
) -> None:
    """Tell someone their role changed and give them the matching commands (best effort)."""
    language = language_of(person, context.services.settings.bureau.default_language)
    _ = gettext_for(language)
    await menu.refresh_commands(context.bot, person.telegram_id, Role(person.role), language)
    try:
        await context.bot.send_message(person.telegram_id, _(message).format(binding=binding_of))
    except TelegramError:
        pass  # blocked the bot or never opened it; the audit log has the change
