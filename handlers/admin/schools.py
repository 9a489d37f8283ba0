"""/schools: the districts, a district's schools, a school's card, and the search."""

from __future__ import annotations

from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers import menu
from handlers.admin.screen import (
    PER_PAGE,
    SEARCH_LIMIT,
    Rows,
    Screen,
    home_row,
    pager,
    search_command,
)
from handlers.context import Who
from models.roster.roster_file import RosterEntry, district_summaries, school_entry, schools_page
from models.roster.tables import District
from texts.admin import connected_line, school_card, school_line
from texts.callbacks import (
    AskUnbind,
    DistrictsPage,
    InviteDistrictOfficer,
    InviteToSchool,
    PeopleOverview,
    SchoolCard,
    SchoolsPage,
)
from texts.i18n import Gettext, schools
from transport.context import HuibaoContext, Services


def school_rows(entries: list[RosterEntry]) -> Rows:
    """One button per school, to its card."""
    return [
        [(f"{e.school.code} {e.school.name}", SchoolCard(e.school.id).pack())] for e in entries
    ]


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
                SchoolsPage(s.district.id, 0).pack(),
            )
        ]
        for s in summaries[page * PER_PAGE : (page + 1) * PER_PAGE]
    ]
    rows += pager(DistrictsPage, page, len(summaries), PER_PAGE)
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
        _("<b>{district}</b>: {schools}").format(
            district=escape(district.name), schools=schools(_, total)
        ),
        *(school_line(e, _) for e in entries),
    ]
    rows = school_rows(entries)
    rows += pager(lambda p: SchoolsPage(district_id, p), page, total, PER_PAGE)
    rows.append(
        [(_("Invite a district officer"), InviteDistrictOfficer(district_id).pack())]
    )
    rows.append([(_("« Districts"), DistrictsPage(0).pack())])
    return Screen("\n".join(lines), rows)


async def search_screen(session: AsyncSession, who: Who, text: str) -> Screen:
    _ = who._
    entries, total = await schools_page(session, search=text, per_page=SEARCH_LIMIT)
    if not entries:
        return Screen(
            _("No school matches “{text}”. Try part of the name or the code.").format(
                text=escape(text)
            ),
            [[(_("Schools by district"), DistrictsPage(0).pack())]],
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
    return Screen("\n".join(lines), school_rows(entries))


def _school_rows(entry: RosterEntry, _: Gettext) -> Rows:
    school = entry.school
    rows: Rows = []
    if school.active:
        if entry.principal is None:
            rows.append([(_("Invite the principal"), InviteToSchool(school.id, "p").pack())])
        else:
            rows.append(
                [(_("Invite a new principal (replaces)"), InviteToSchool(school.id, "r").pack())]
            )
        rows.append([(_("Invite a deputy / data clerk"), InviteToSchool(school.id, "d").pack())])
    for person in entry.contacts:
        rows.append(
            [(_("Unbind {name}").format(name=person.name or "?"), AskUnbind(person.id).pack())]
        )
    rows.append([(_("« {district}").format(district=entry.district.name),
                  SchoolsPage(entry.district.id, 0).pack())])
    return rows


async def school_screen(session: AsyncSession, who: Who, school_id: int) -> Screen | None:
    entry = await school_entry(session, school_id)
    if entry is None:
        return None
    return Screen(school_card(entry, who._), _school_rows(entry, who._))


async def schools_command(update: Update, context: HuibaoContext) -> None:
    await search_command(update, context, search_screen, _first_districts)


async def _first_districts(session: AsyncSession, who: Who) -> Screen | None:
    return await districts_screen(session, who, 0)


# --- /menu section -----------------------------------------------------------------------


async def render_staff(session: AsyncSession, who: Who, services: Services) -> menu.Block:
    _ = who._
    summaries = await district_summaries(session)
    return menu.Block(
        [connected_line(_, summaries)],
        [[(_("Schools"), DistrictsPage(0).pack()), (_("People"), PeopleOverview(0).pack())]],
    )
