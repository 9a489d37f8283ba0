"""Services over people: first contact, admins from settings, roles and bindings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.base import inserted, utcnow
from models.roster.tables import Person, Role, School

# How stale a stranger's last-seen time (people.updated_at) may get: at most one write a
# day per stranger, and pruning after 30 days (models/roster/strangers.py) is off by a day at most.
SEEN_RESOLUTION = timedelta(days=1)


async def get_person(session: AsyncSession, telegram_id: int) -> Person | None:
    return (
        await session.execute(select(Person).where(Person.telegram_id == telegram_id))
    ).scalar_one_or_none()


async def touch_person(
    session: AsyncSession,
    telegram_id: int,
    *,
    name: str,
    username: str | None,
    telegram_language: str | None,
    now: datetime | None = None,
) -> Person:
    """Return the person for a Telegram user, creating them on first contact.

    Name and Telegram language are refreshed on every contact because people change them.
    A stranger's (no role) `updated_at` doubles as their last-seen time, kept to within
    SEEN_RESOLUTION, so that strangers who stopped writing can be pruned.
    """
    now = now or utcnow()
    person = await get_person(session, telegram_id)
    if person is None:
        return await inserted(session, Person(
            telegram_id=telegram_id, name=name, username=username,
            telegram_language=telegram_language, role=Role.NONE.value,
            created_at=now, updated_at=now,
        ))
    if person.role == Role.NONE.value and person.updated_at < now - SEEN_RESOLUTION:
        person.updated_at = now
    if (person.name, person.username, person.telegram_language) != (
        name,
        username,
        telegram_language,
    ):
        person.name, person.username, person.telegram_language = name, username, telegram_language
    if not person.reachable:
        # Writing to us again means they unblocked the bot.
        person.reachable = True
    return person


async def ensure_admins(session: AsyncSession, telegram_ids: Iterable[int]) -> list[int]:
    """Make the settings' admins admins; returns the ids whose role changed.

    Safe when several processes start at once: the row is inserted with ON CONFLICT DO
    NOTHING (a plain INSERT made the second process die on uq_people_telegram_id) and
    then read FOR UPDATE, so on PostgreSQL the second process waits for the first and
    finds the role already set instead of writing the change twice.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    changed: list[int] = []
    for telegram_id in telegram_ids:
        await session.execute(
            insert(Person)
            .values(telegram_id=telegram_id, name="", role=Role.NONE.value)
            .on_conflict_do_nothing(index_elements=[Person.telegram_id])
        )
        person = (
            await session.execute(
                select(Person)
                .where(Person.telegram_id == telegram_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        if await set_role(session, person, Role.ADMIN, reason="bureau.admins in settings"):
            changed.append(telegram_id)
    return changed


async def principal_of(session: AsyncSession, school_id: int) -> Person | None:
    return (
        await session.execute(
            select(Person).where(
                Person.school_id == school_id, Person.role == Role.PRINCIPAL.value
            )
        )
    ).scalar_one_or_none()


async def contacts_of(session: AsyncSession, school_ids: Iterable[int]) -> dict[int, list[Person]]:
    """Principal first, then deputies, for each school that has any."""
    ids = list(school_ids)
    found: dict[int, list[Person]] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(Person)
            .where(
                Person.school_id.in_(ids[start : start + 500]),
                Person.role.in_([Role.PRINCIPAL.value, Role.DEPUTY.value]),
            )
            .order_by(Person.role.desc(), Person.id)  # "principal" sorts after "deputy"
        )
        for person in rows.scalars():
            assert person.school_id is not None
            found.setdefault(person.school_id, []).append(person)
    return found


class BindingError(ValueError):
    """A role and binding that do not fit together (a principal without a school, ...)."""


async def set_role(
    session: AsyncSession, person: Person, role: Role, *, school_id: int | None = None,
    district_id: int | None = None, actor_id: int | None = None, reason: str = "",
) -> bool:
    """Give a person a role and its binding, writing who changed what in the audit log.

    The one way roles and bindings change, so that every change is audited. Principals
    and deputies are bound to one school, district officers to one district; other roles
    to nothing. Returns False when nothing changed.
    """
    if role.is_school_contact:
        if school_id is None:
            raise BindingError(f"a {role.value} needs a school")
        district_id = None
    elif role is Role.DISTRICT_OFFICER:
        if district_id is None:
            raise BindingError("a district officer needs a district")
        school_id = None
    else:
        school_id = district_id = None
    old = (person.role, person.school_id, person.district_id)
    new = (role.value, school_id, district_id)
    if old == new:
        return False
    person.role, person.school_id, person.district_id = new
    record(
        session, "role.change", person.id, actor_id=actor_id, target_type="person",
        old_role=old[0],
        new_role=new[0],
        old_school_id=old[1],
        new_school_id=new[1],
        old_district_id=old[2],
        new_district_id=new[2],
        reason=reason,
    )
    # Flushed at once: replacing a principal must reach the database before the new one
    # is written, or the one-principal-per-school index would refuse the pair.
    await session.flush()
    return True


async def search_people(session: AsyncSession, text: str, *, limit: int = 20) -> list[Person]:
    """People whose name, @username or Telegram id matches, or who are bound to a school
    whose code or name matches."""
    text = text.strip().lstrip("@")
    if not text:
        return []
    pattern = f"%{text.lower()}%"
    conditions: list[ColumnElement[bool]] = [
        func.lower(Person.name).like(pattern),
        func.lower(func.coalesce(Person.username, "")).like(pattern),
        Person.school_id.in_(
            select(School.id).where(
                func.lower(School.code).like(pattern) | func.lower(School.name).like(pattern)
            )
        ),
    ]
    if text.isdigit():
        conditions.append(Person.telegram_id == int(text))
    query = select(Person).where(or_(*conditions)).order_by(Person.name, Person.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def people_with_role(session: AsyncSession, *roles: Role) -> list[Person]:
    query = (
        select(Person)
        .where(Person.role.in_([r.value for r in roles]))
        .order_by(Person.name, Person.id)
    )
    return list((await session.execute(query)).scalars())
