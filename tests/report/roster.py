"""A small county for report tests: two districts, four schools, their principals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from models.forms import FormDef, FormRegistry, load_forms
from models.roster.tables import District, Person, Role, School

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "forms"
FIXTURE_FORMS = Path(__file__).parent / "fixtures"

_registry: FormRegistry | None = None


def real_forms() -> FormRegistry:
    global _registry
    if _registry is None:
        _registry = load_forms(FORMS)
    return _registry


def staffing() -> FormDef:
    return real_forms().get("staffing")


@dataclass
class Roster:
    districts: dict[str, District] = field(default_factory=dict)
    schools: dict[str, School] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)


# code, name, district, stage
SCHOOLS = [
    ("S001", "城关第一小学", "城关学区", "primary"),
    ("S002", "城关中学", "城关学区", "junior"),
    ("S003", "河西九年一贯制学校", "河西学区", "nine_year"),
    ("S004", "河西高级中学", "河西学区", "senior"),
]


async def make_roster(session: AsyncSession) -> Roster:
    roster = Roster()
    for name in ("城关学区", "河西学区"):
        d = District(name=name)
        session.add(d)
        roster.districts[name] = d
    await session.flush()
    for code, name, district, stage in SCHOOLS:
        s = School(code=code, name=name, district_id=roster.districts[district].id, stage=stage)
        session.add(s)
        roster.schools[code] = s
    await session.flush()
    tid = 5000
    for code in roster.schools:
        tid += 1
        p = Person(
            telegram_id=tid,
            name=f"校长{code}",
            role=Role.PRINCIPAL.value,
            school_id=roster.schools[code].id,
            language="zh_CN",
        )
        session.add(p)
        roster.people[f"principal:{code}"] = p
    deputy = Person(
        telegram_id=6001,
        name="副校长S001",
        role=Role.DEPUTY.value,
        school_id=roster.schools["S001"].id,
        language="en",
    )
    staff = Person(telegram_id=7001, name="人事科王科长", username="wang", role=Role.STAFF.value)
    session.add_all([deputy, staff])
    roster.people["deputy:S001"] = deputy
    roster.people["staff"] = staff
    await session.flush()
    return roster
