"""Who a notice is for: the audience a notice is addressed to, and the people it reaches.

A notice goes to the principals and deputies of the active schools in its audience (all
schools, some districts, some stages, or chosen school codes).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.roster.tables import District, Person, Role, School, Stage

CONTACT_ROLES = (Role.PRINCIPAL.value, Role.DEPUTY.value)


class AudienceKind(enum.StrEnum):
    ALL = "all"
    DISTRICTS = "districts"
    STAGES = "stages"
    SCHOOLS = "schools"


@dataclass(frozen=True)
class Audience:
    """Who a notice is for; `values` are district ids, stage codes or school codes."""

    kind: AudienceKind
    values: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "values": list(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience | None:
        if not data:
            return None
        try:
            kind = AudienceKind(str(data.get("kind")))
        except ValueError:
            return None
        return cls(kind, tuple(data.get("values") or ()))


@dataclass(frozen=True)
class Recipient:
    person: Person
    school: School


@dataclass
class Resolved:
    recipients: list[Recipient] = field(default_factory=list)
    # Active schools in the audience with no connected principal or deputy.
    excluded: list[School] = field(default_factory=list)
    # Chosen school codes that do not exist, and chosen schools that are closed.
    unknown_codes: list[str] = field(default_factory=list)
    inactive: list[School] = field(default_factory=list)

    @property
    def school_count(self) -> int:
        return len({r.school.id for r in self.recipients})


def parse_codes(text: str) -> list[str]:
    """School codes typed by staff: separated by spaces, commas or 、; order kept, no repeats."""
    for separator in ",，、;；\n\t":
        text = text.replace(separator, " ")
    seen: dict[str, None] = {}
    for code in text.split():
        seen.setdefault(code.strip(), None)
    return [code for code in seen if code]


async def resolve_audience(session: AsyncSession, audience: Audience) -> Resolved:
    result = Resolved()
    query = select(School).where(School.active.is_(True))
    if audience.kind is AudienceKind.DISTRICTS:
        query = query.where(School.district_id.in_([int(v) for v in audience.values]))
    elif audience.kind is AudienceKind.STAGES:
        query = query.where(School.stage.in_([str(v) for v in audience.values]))
    elif audience.kind is AudienceKind.SCHOOLS:
        codes = [str(v) for v in audience.values]
        found = {
            s.code: s
            for s in (
                await session.execute(select(School).where(School.code.in_(codes)))
            ).scalars()
        }
        result.unknown_codes = [c for c in codes if c not in found]
        result.inactive = [found[c] for c in codes if c in found and not found[c].active]
        query = query.where(School.code.in_(codes))
    schools = list((await session.execute(query.order_by(School.code))).scalars().all())
    if not schools:
        return result
    people = (
        await session.execute(
            select(Person)
            .where(
                Person.school_id.in_([s.id for s in schools]),
                Person.role.in_(CONTACT_ROLES),
            )
            .order_by(Person.role.desc(), Person.id)  # principals before deputies
        )
    ).scalars().all()
    by_school: dict[int, list[Person]] = {}
    for person in people:
        assert person.school_id is not None
        by_school.setdefault(person.school_id, []).append(person)
    for school in schools:
        contacts = by_school.get(school.id)
        if not contacts:
            result.excluded.append(school)
            continue
        result.recipients.extend(Recipient(person, school) for person in contacts)
    return result


async def districts(session: AsyncSession) -> list[District]:
    return list((await session.execute(select(District).order_by(District.name))).scalars())


def stage_codes() -> list[str]:
    return [stage.value for stage in Stage]
