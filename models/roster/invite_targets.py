"""Which schools or districts one request for invitations reaches, by the rules of each role.

Staff invites are for the bureau (no school or district); district officers are invited
per district; principals and deputies per school, active schools only, and a school that
already has a principal gets no new principal invite unless staff ask to replace them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.roster.order import natural_key
from models.roster.tables import District, Person, Role, School

INVITABLE_ROLES = (Role.PRINCIPAL, Role.DEPUTY, Role.DISTRICT_OFFICER, Role.STAFF)


class InviteError(Exception):
    """A request for invites that cannot be met, worded for the person who made it."""


@dataclass
class Targets:
    schools: list[School]
    districts: list[District]
    # Schools left out because they already have a principal (principal invites only).
    skipped: list[School]


async def _schools_with_principal(session: AsyncSession) -> set[int]:
    rows = await session.execute(
        select(Person.school_id).where(
            Person.role == Role.PRINCIPAL.value, Person.school_id.is_not(None)
        )
    )
    return {school_id for (school_id,) in rows if school_id is not None}


def _check_request(
    role: Role, school_code: str | None, district_name: str | None, all_schools: bool
) -> int:
    """How many of school, district and all were given; InviteError if they do not fit."""
    if role not in INVITABLE_ROLES:
        raise InviteError(f"cannot invite someone as {role.value}")
    chosen = sum(1 for given in (school_code, district_name, all_schools) if given)
    if chosen > 1:
        raise InviteError("give only one of --school, --district, --all")
    if role is Role.STAFF and chosen:
        raise InviteError("staff invites are for the bureau: give no school or district")
    if role is Role.DISTRICT_OFFICER and school_code:
        raise InviteError("a district officer is invited with --district NAME or --all")
    if role is Role.DISTRICT_OFFICER and not chosen:
        raise InviteError("say which district: --district NAME or --all")
    if role in (Role.PRINCIPAL, Role.DEPUTY) and not chosen:
        raise InviteError("say which schools: --school CODE, --district NAME or --all")
    return chosen


async def _districts(session: AsyncSession, district_name: str | None) -> list[District]:
    """The named district, or every district."""
    district_query = select(District)
    if district_name:
        district_query = district_query.where(District.name == district_name.strip())
    found = (await session.execute(district_query)).scalars()
    districts = sorted(found, key=lambda d: natural_key(d.name))
    if district_name and not districts:
        raise InviteError(f"no district named {district_name!r}")
    return districts


async def _named_school(session: AsyncSession, school_code: str) -> School:
    school = (
        await session.execute(select(School).where(School.code == school_code.strip()))
    ).scalar_one_or_none()
    if school is None:
        raise InviteError(f"no school with code {school_code!r}")
    if not school.active:
        raise InviteError(f"school {school.code} ({school.name}) is closed")
    return school


async def _active_schools(session: AsyncSession, district_name: str | None) -> list[School]:
    """The active schools of the named district, or of every district."""
    query = select(School).where(School.active.is_(True)).order_by(School.code)
    if district_name:
        name = district_name.strip()
        district = (
            await session.execute(select(District).where(District.name == name))
        ).scalar_one_or_none()
        if district is None:
            raise InviteError(f"no district named {district_name!r}")
        query = query.where(School.district_id == district.id)
    return list((await session.execute(query)).scalars())


async def resolve_targets(
    session: AsyncSession, role: Role, *, school_code: str | None = None,
    district_name: str | None = None, all_schools: bool = False, replace: bool = False,
) -> Targets:
    """Which schools or districts get one invite each, by the rules of each role."""
    _check_request(role, school_code, district_name, all_schools)
    if role is Role.STAFF:
        return Targets([], [], [])
    if role is Role.DISTRICT_OFFICER:
        return Targets([], await _districts(session, district_name), [])
    if school_code:
        schools = [await _named_school(session, school_code)]
    else:
        schools = await _active_schools(session, district_name)
    skipped: list[School] = []
    if role is Role.PRINCIPAL and not replace:
        taken = await _schools_with_principal(session)
        skipped = [s for s in schools if s.id in taken]
        # One named school is invited even if taken: redemption then explains that the
        # school already has a principal, which is what staff asked for.
        if not school_code:
            schools = [s for s in schools if s.id not in taken]
    return Targets(schools, [], skipped)
