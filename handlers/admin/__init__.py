"""Staff in chat: /schools, /people and /invite, and the buttons behind them.

Every command and button here is registered through handlers.menu, so the role is read
from the database before anything runs and other roles get a polite refusal; the handlers
re-check it inside the transaction that acts. Button data is decoded by texts/callbacks.py:
anything malformed, forged or out of date gets "this button is no longer valid".

schools.py: the districts, their schools, a school's card; people.py: people, a person's
card, unbinding, staff; invites.py: /invite and the invite buttons; screen.py: what they
share. The buttons that only show a screen share one handler, `on_screen`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers import menu
from handlers.admin.invites import (
    invite_command,
    on_confirm_district_invite,
    on_confirm_school_invite,
    on_invite_district,
    on_invite_school,
    on_invite_staff,
)
from handlers.admin.people import (
    missing_screen,
    on_confirm_remove_staff,
    on_make_staff,
    on_remove_staff,
    on_unbind,
    people_command,
    people_screen,
    person_screen,
    staff_screen,
    unbind_question_screen,
)
from handlers.admin.schools import (
    districts_screen,
    render_staff,
    school_screen,
    schools_command,
    schools_screen,
    search_page_screen,
)
from handlers.admin.screen import Screen, show_or_stale
from handlers.context import Who, unit
from texts.callbacks import (
    AskUnbind,
    ConfirmDistrictInvite,
    ConfirmRemoveStaff,
    ConfirmSchoolInvite,
    DistrictsPage,
    InviteDistrictOfficer,
    InviteStaff,
    InviteToSchool,
    MakeStaff,
    MissingPrincipalsPage,
    PeopleOverview,
    PersonCard,
    RemoveStaff,
    SchoolCard,
    SchoolSearchPage,
    SchoolsPage,
    StaffList,
    Unbind,
)
from texts.i18n import N_
from transport.context import HuibaoApp, HuibaoContext

__all__ = ["register"]

ScreenButton = (
    DistrictsPage
    | SchoolsPage
    | SchoolCard
    | PeopleOverview
    | MissingPrincipalsPage
    | StaffList
    | PersonCard
    | AskUnbind
    | SchoolSearchPage
)


async def screen_for(session: AsyncSession, who: Who, button: ScreenButton) -> Screen | None:
    """The screen a button shows, or None when its data no longer fits (stale)."""
    match button:
        case DistrictsPage(page):
            return await districts_screen(session, who, page)
        case SchoolsPage(district_id, page):
            return await schools_screen(session, who, district_id, page)
        case SchoolCard(school_id):
            return await school_screen(session, who, school_id)
        case MissingPrincipalsPage(page):
            return await missing_screen(session, who, page)
        case PersonCard(person_id):
            return await person_screen(session, who, person_id)
        case AskUnbind(person_id):
            return await unbind_question_screen(session, who, person_id)
        case SchoolSearchPage(page, text):
            return await search_page_screen(session, who, text, page)
        # One page each, so any other page is a forged button.
        case PeopleOverview(0):
            return await people_screen(session, who)
        case StaffList(0):
            return await staff_screen(session, who)
    return None


async def on_screen(update: Update, context: HuibaoContext, button: ScreenButton) -> None:
    async with unit(update, context) as (session, who):
        screen = await screen_for(session, who, button)
    await show_or_stale(update, who, screen)


def register(app: HuibaoApp) -> None:
    staff, admin = menu.STAFF, menu.ADMIN
    menu.add_command(app, "schools", schools_command, N_("Schools by district, search"), staff,
                     order=50)
    menu.add_command(app, "people", people_command, N_("Who is connected where"), staff, order=51)
    menu.add_command(app, "invite", invite_command, N_("Invite a principal, deputy or staff"),
                     staff, order=52)
    add = menu.add_button
    add(app, DistrictsPage, on_screen, staff, example=DistrictsPage(0))
    add(app, SchoolsPage, on_screen, staff, example=SchoolsPage(1, 0))
    add(app, SchoolCard, on_screen, staff, example=SchoolCard(1))
    add(app, PeopleOverview, on_screen, staff, example=PeopleOverview(0))
    add(app, MissingPrincipalsPage, on_screen, staff, example=MissingPrincipalsPage(0))
    add(app, StaffList, on_screen, staff, example=StaffList(0))
    add(app, PersonCard, on_screen, staff, example=PersonCard(1))
    add(app, AskUnbind, on_screen, staff, example=AskUnbind(1))
    add(app, Unbind, on_unbind, staff, example=Unbind(1, 1))
    add(app, MakeStaff, on_make_staff, admin, example=MakeStaff(1))
    add(app, RemoveStaff, on_remove_staff, admin, example=RemoveStaff(1))
    add(app, ConfirmRemoveStaff, on_confirm_remove_staff, admin, example=ConfirmRemoveStaff(1))
    add(app, InviteToSchool, on_invite_school, staff, example=InviteToSchool(1, "p"))
    add(app, ConfirmSchoolInvite, on_confirm_school_invite, staff,
        example=ConfirmSchoolInvite(1, "p", 0))
    add(app, SchoolSearchPage, on_screen, staff, example=SchoolSearchPage(1, "小学"))
    add(app, InviteDistrictOfficer, on_invite_district, staff, example=InviteDistrictOfficer(1))
    add(app, ConfirmDistrictInvite, on_confirm_district_invite, staff,
        example=ConfirmDistrictInvite(1, 0))
    add(app, InviteStaff, on_invite_staff, admin, example=InviteStaff(0))
    menu.add_section(menu.Section("admin.schools_people", staff, render_staff, order=50))
