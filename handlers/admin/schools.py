"""/schools: the districts, a district's schools, a school's card, and the search."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from handlers import menu
from handlers.admin import screen
from handlers.context import Who
from models.roster.roster_file import RosterEntry, district_summaries, school_entry, schools_page
from models.roster.tables import District
from texts.admin import connected_line, school_card, school_line
from texts.callbacks import (
    SEPARATOR,
    AskUnbind,
    Callback,
    DistrictsPage,
    InviteDistrictOfficer,
    InviteToSchool,
    PeopleOverview,
    SchoolCard,
    SchoolSearchPage,
    SchoolsPage,
)
from texts.i18n import Gettext, schools
from transport.context import HuibaoContext, Services


def school_rows(entries: list[RosterEntry]) -> screen.Rows:
    """One button per school, to its card."""
    return [
        [(f"{e.school.code} {e.school.name}", SchoolCard(e.school.id).pack())] for e in entries
    ]


async def districts_screen(session: AsyncSession, who: Who, page: int) -> screen.Screen | None:
    _ = who._
    summaries = await district_summaries(session)
    pages = max(1, -(-len(summaries) // screen.PER_PAGE))
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
        for s in summaries[page * screen.PER_PAGE : (page + 1) * screen.PER_PAGE]
    ]
    rows += screen.pager(DistrictsPage, page, len(summaries), screen.PER_PAGE)
    rows.append(screen.home_row(_))
    return screen.Screen("\n".join(lines), rows)


async def schools_screen(
    session: AsyncSession, who: Who, district_id: int, page: int
) -> screen.Screen | None:
    _ = who._
    district = await session.get(District, district_id)
    if district is None:
        return None
    entries, total = await schools_page(
        session, district_id=district_id, page=page, per_page=screen.PER_PAGE
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
    rows += screen.pager(lambda p: SchoolsPage(district_id, p), page, total, screen.PER_PAGE)
    rows.append(
        [(_("Invite a district officer"), InviteDistrictOfficer(district_id).pack())]
    )
    rows.append([(_("« Districts"), DistrictsPage(0).pack())])
    return screen.Screen("\n".join(lines), rows)


def _search_page(text: str) -> Callable[[int], Callback] | None:
    """The pager's buttons of a search, when its words fit in a button's data (64 bytes,
    no separator); else None, and the screen asks for more of the name instead."""
    if not text or SEPARATOR in text:
        return None
    try:
        SchoolSearchPage(999, text).pack()
    except ValueError:
        return None
    return lambda page: SchoolSearchPage(page, text)


async def search_screen(session: AsyncSession, who: Who, text: str) -> screen.Screen:
    """/schools WORDS: the first page of the schools matching them."""
    found = await search_page_screen(session, who, text, 0)
    assert found is not None  # the first page always has an answer
    return found


async def search_page_screen(
    session: AsyncSession, who: Who, text: str, page: int
) -> screen.Screen | None:
    """The schools matching `text`, SEARCH_LIMIT a page (None: a page past the end)."""
    _ = who._
    entries, total = await schools_page(
        session, search=text, page=page, per_page=screen.SEARCH_LIMIT
    )
    if not entries:
        if page > 0:
            return None
        return screen.Screen(
            _("No school matches “{text}”. Try part of the name or the code.").format(
                text=escape(text)
            ),
            [[(_("Schools by district"), DistrictsPage(0).pack())]],
        )
    lines = [
        _("<b>Schools matching “{text}”</b>").format(text=escape(text)),
        *(school_line(e, _) for e in entries),
    ]
    rows = school_rows(entries)
    page_of = _search_page(text)
    if page_of is not None:
        if total > screen.SEARCH_LIMIT:
            lines.append(_("{count} schools match; ◀ ▶ turn the pages.").format(count=total))
        rows += screen.pager(page_of, page, total, screen.SEARCH_LIMIT)
    elif total > len(entries):
        lines.append(
            _("… and {more} more: add more of the name or code.").format(
                more=total - len(entries)
            )
        )
    return screen.Screen("\n".join(lines), rows)


def _school_rows(entry: RosterEntry, _: Gettext) -> screen.Rows:
    school = entry.school
    rows: screen.Rows = []
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


async def school_screen(session: AsyncSession, who: Who, school_id: int) -> screen.Screen | None:
    entry = await school_entry(session, school_id)
    if entry is None:
        return None
    return screen.Screen(school_card(entry, who._), _school_rows(entry, who._))


async def schools_command(update: Update, context: HuibaoContext) -> None:
    await screen.search_command(update, context, search_screen, _first_districts)


async def _first_districts(session: AsyncSession, who: Who) -> screen.Screen | None:
    return await districts_screen(session, who, 0)


# --- /menu section -----------------------------------------------------------------------


async def render_staff(session: AsyncSession, who: Who, services: Services) -> menu.Block:
    _ = who._
    summaries = await district_summaries(session)
    return menu.Block(
        [connected_line(_, summaries)],
        [[(_("Schools"), DistrictsPage(0).pack()), (_("People"), PeopleOverview(0).pack())]],
    )
