"""Phones: a school's number and its principal's, so that staff can call a late school.

A number is read the way people write it in China: a mobile (1[3-9] and nine digits)
or a landline with its area code (0731-84123456, (010) 6512 3456), with spaces, dashes,
brackets, full-width digits and a +86 / 0086 / 86 in front all accepted. It is stored
normalised: a mobile as its eleven digits, a landline as "area-local" (0731-84123456),
so the same number typed twice is stored once and reads the same everywhere.

Who may see them: bureau staff, and the officers of the school's own district. A
principal never sees another school's number (`may_see_phones`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.roster.tables import Person, Role, School

MAX_PHONE = 32
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes are 010 and 02x (three digits) or 0 and three more; the local number has
# seven or eight digits and never starts with 0 or 1.
_LANDLINE = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))([2-9]\d{6,7})")
_SEPARATORS = re.compile(r"[\s\-‐‑–—.·()（）]+")


def normalise(text: str) -> str | None:
    """The number in its stored form, or None when it is not a Chinese mobile or a
    landline with its area code."""
    digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 10:
            digits = digits[len(prefix):]
            # Dialled from abroad a landline loses its leading 0: +86 731 84123456.
            if not digits.startswith(("0", "1")):
                digits = "0" + digits
            break
    if not digits.isdigit():
        return None
    if _MOBILE.fullmatch(digits):
        return digits
    landline = _LANDLINE.fullmatch(digits)
    if landline:
        return f"{landline.group(1)}-{landline.group(2)}"
    return None


@dataclass(frozen=True, slots=True)
class Phones:
    """What staff may call for one school: its own number and its principal's."""

    school: str | None = None
    principal: str | None = None

    def __bool__(self) -> bool:
        return bool(self.school or self.principal)


class Callee(NamedTuple):
    """A school in a list of schools to phone: its name and its numbers."""

    name: str
    phones: Phones


def phones_for(school: School, principals: Iterable[Person]) -> Phones:
    """A school's numbers: the principal's own (given with /phone) before the roster's."""
    own = next((p.phone for p in principals if p.role == Role.PRINCIPAL.value and p.phone), None)
    return Phones(school.phone, own or school.principal_phone)


def combine(school: str | None, roster_principal: str | None, own: Iterable[str | None]) -> Phones:
    """The same rule as phones_for, over plain values (a principal's own number first)."""
    return Phones(school, next((p for p in own if p), None) or roster_principal)


async def phones_of(session: AsyncSession, school_ids: Sequence[int]) -> dict[int, Phones]:
    """Every school's Phones, in one query per 500 schools."""
    out: dict[int, Phones] = {}
    principal = and_(Person.school_id == School.id, Person.role == Role.PRINCIPAL.value)
    for start in range(0, len(school_ids), 500):
        chunk = school_ids[start : start + 500]
        rows = await session.execute(
            select(School.id, School.phone, School.principal_phone, Person.phone)
            .outerjoin(Person, principal)
            .where(School.id.in_(chunk))
        )
        for school_id, phone, roster_principal, own in rows.all():
            out[school_id] = combine(phone, roster_principal, [own])
    return out


def may_see_phones(role: Role, viewer_district: int | None, school_district: int | None) -> bool:
    """Staff see every school's numbers; a district officer those of their own district's
    schools; nobody else any."""
    if role.is_staff:
        return True
    return (
        role is Role.DISTRICT_OFFICER
        and viewer_district is not None
        and viewer_district == school_district
    )


async def set_phone(
    session: AsyncSession, person: Person, phone: str | None, *, via: str
) -> bool:
    """Store (or with None clear) a person's own number; True when it changed. The audit
    log says that it changed and how, not the number."""
    if person.phone == phone:
        return False
    person.phone = phone
    record(
        session, "person.phone", person.id, actor_id=person.id, target_type="person",
        via=via, cleared=phone is None,
    )
    return True
