"""The roster: districts and schools, read from a bureau's spreadsheet and kept up to date.

A roster file is CSV or XLSX with one school a row and the columns code, name, district
and stage (English or the Chinese headers bureaus use: 学校代码, 学校名称, 学区 or 乡镇,
学段), optionally active (在用), the school's phone (学校电话) and its principal's
(校长电话; models/roster/phones.py reads them). Importing upserts by code: a file with any bad row
changes nothing, so a bureau never ends up with half a roster.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit import record
from models.base import utcnow
from models.cells import typed
from models.roster.order import natural_key, school_key
from models.roster.people import contacts_of
from models.roster.phones import MAX_PHONE, normalise
from models.roster.roster_words import (
    FALSE_WORDS,
    HEADER_HINTS,
    HEADER_LOOKUP,
    HEADER_SEARCH_ROWS,
    REQUIRED,
    TRUE_WORDS,
    header_key,
)
from models.roster.roster_words import parse_stage as parse_stage  # its callers import it here
from models.roster.tables import District, Person, Role, School, Stage
from models.rounds.tallies import forget_moved

MAX_CODE = 40
MAX_NAME = 200
MAX_DISTRICT = 100


class RosterFileError(Exception):
    """The file as a whole cannot be read as a roster (wrong format, missing column)."""


@dataclass(frozen=True)
class RosterRow:
    line: int
    code: str
    name: str
    district: str
    stage: Stage
    active: bool | None  # None: the file has no active column; leave the flag alone
    # Normalised numbers (学校电话, 校长电话); None: no column or an empty cell, so the
    # stored number stays (a blank cell never erases a number).
    phone: str | None = None
    principal_phone: str | None = None


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str


@dataclass
class ParsedRoster:
    rows: list[RosterRow]
    problems: list[Problem]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        # Excel stores numeric codes as floats: 4306210001.0 is the code 4306210001.
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    # typed(): a name our own export marked with an apostrophe (models/cells.py) comes
    # back as it was, so an exported roster can be edited and imported again.
    return typed(str(value).replace("\u3000", " ").strip()).strip()


def _read_xlsx(path: Path) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise RosterFileError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell(v) for v in values]
    finally:
        workbook.close()


def decode_text(raw: bytes) -> str | None:
    """Text saved by Excel or Notepad in China: UTF-8 (with or without a BOM) or GBK.
    None when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        # Excel in China saves CSV as GBK unless told otherwise.
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _read_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    text = decode_text(path.read_bytes())
    if text is None:
        raise RosterFileError(f"{path.name}: not UTF-8 or GBK text")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",\t;，")
    except csv.Error:
        dialect = csv.excel
    for number, values in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        yield number, [_cell(v) for v in values]


def read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise RosterFileError(f"{path}: no such file")
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".csv", ".txt"):
        return _read_csv(path)
    raise RosterFileError(f"{path.name}: use a .csv or .xlsx file (got {suffix or 'no suffix'})")


def _header(values: list[str], number: int) -> dict[str, int] | None:
    """The columns this row names, if it is the header row; None if it is not one.

    Sheets often start with a title row ("某县2026年学校名册"): the header is the first row
    that names at least two known columns."""
    found: dict[str, int] = {}
    for index, header in enumerate(values):
        key = HEADER_LOOKUP.get(header_key(header))
        if key and key not in found:
            found[key] = index
    if len(found) < 2:
        return None
    missing = [k for k in REQUIRED if k not in found]
    if missing:
        names = ", ".join(f"{k} ({HEADER_HINTS[k]})" for k in missing)
        raise RosterFileError(
            f"line {number}: the header row has no column for {names}; "
            "expected columns code, name, district, stage"
        )
    return found


def _text_problems(code: str, name: str, district: str, seen: dict[str, int]) -> list[str]:
    reasons: list[str] = []
    if not code:
        reasons.append("missing code")
    elif len(code) > MAX_CODE:
        reasons.append(f"code longer than {MAX_CODE} characters")
    elif code in seen:
        reasons.append(f"duplicate code {code} (also on line {seen[code]})")
    for label, value, limit in (("name", name, MAX_NAME), ("district", district, MAX_DISTRICT)):
        if not value:
            reasons.append(f"missing {label}")
        elif len(value) > limit:
            reasons.append(f"{label} longer than {limit} characters")
    return reasons


def _read_stage(text: str, reasons: list[str]) -> Stage | None:
    stage = parse_stage(text)
    if not text:
        reasons.append("missing stage")
    elif stage is None:
        reasons.append(f"unknown stage {text!r}")
    return stage


def _read_active(text: str, reasons: list[str]) -> bool | None:
    """True or False as the active column says; None when it says nothing."""
    if not text:
        return None
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    reasons.append(f"cannot read active {text!r} (use 是 / 否 or yes / no)")
    return None


def _read_phone(text: str, label: str, reasons: list[str]) -> str | None:
    """The cell's number, normalised; None when the cell is empty."""
    if not text:
        return None
    phone = normalise(text) if len(text) <= MAX_PHONE * 2 else None
    if phone is None:
        reasons.append(
            f"cannot read {label} {text!r} (a mobile such as 13812345678, or a landline "
            "with its area code such as 0731-84123456)"
        )
    return phone


def _check_row(
    number: int, values: list[str], columns: dict[str, int], seen: dict[str, int]
) -> RosterRow | Problem:
    def get(key: str) -> str:
        index = columns.get(key)
        return values[index] if index is not None and index < len(values) else ""

    code, name, district = get("code"), get("name"), get("district")
    reasons = _text_problems(code, name, district, seen)
    stage = _read_stage(get("stage"), reasons)
    active = _read_active(get("active"), reasons) if "active" in columns else None
    phone = _read_phone(get("phone"), "phone", reasons)
    principal_phone = _read_phone(get("principal_phone"), "principal phone", reasons)
    if code and code not in seen:
        seen[code] = number
    if reasons:
        return Problem(number, "; ".join(reasons))
    assert stage is not None
    return RosterRow(number, code, name, district, stage, active, phone, principal_phone)


def parse_roster(lines: Iterable[tuple[int, list[str]]]) -> ParsedRoster:
    """Check every row and report every problem, by line number, at once."""
    columns: dict[str, int] | None = None
    parsed = ParsedRoster([], [])
    seen: dict[str, int] = {}
    skipped = 0
    for number, values in lines:
        if not any(values):
            continue
        if columns is None:
            columns = _header(values, number)
            if columns is None:
                skipped += 1
                if skipped >= HEADER_SEARCH_ROWS:
                    break
            continue
        checked = _check_row(number, values, columns, seen)
        if isinstance(checked, Problem):
            parsed.problems.append(checked)
        else:
            parsed.rows.append(checked)
    if columns is None:
        raise RosterFileError(
            "no header row found: the first rows should name the columns code, name, "
            "district, stage (or 学校代码, 学校名称, 学区 / 乡镇, 学段)"
        )
    if not parsed.rows and not parsed.problems:
        raise RosterFileError("the file has a header but no schools")
    return parsed


def read_roster(path: Path) -> ParsedRoster:
    return parse_roster(read_rows(path))


# --- importing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    line: int
    code: str
    name: str
    # (field, old, new) for updates; empty for additions.
    fields: tuple[tuple[str, str, str], ...] = ()


@dataclass
class ImportResult:
    added: list[Change] = field(default_factory=list)
    updated: list[Change] = field(default_factory=list)
    unchanged: int = 0
    new_districts: list[str] = field(default_factory=list)
    # Active schools in the database that the file does not mention (left as they are).
    not_in_file: int = 0


# A school as stored: (id, name, district id, stage, active, phone, principal's phone),
# by code.
_Stored = tuple[int, str, int, str, bool, str | None, str | None]


async def _district_ids(session: AsyncSession) -> dict[str, int]:
    return {name: id_ for id_, name in await session.execute(select(District.id, District.name))}


async def _stored_schools(session: AsyncSession) -> dict[str, _Stored]:
    query = select(
        School.id, School.code, School.name, School.district_id, School.stage, School.active,
        School.phone, School.principal_phone,
    )
    return {
        code: (id_, name, district_id, stage, active, phone, principal_phone)
        for id_, code, name, district_id, stage, active, phone, principal_phone
        in await session.execute(query)
    }


def _new_school(row: RosterRow, district_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "district_id": district_id,
        "stage": row.stage.value,
        "active": True if row.active is None else row.active,
        "phone": row.phone,
        "principal_phone": row.principal_phone,
        "created_at": now,
        "updated_at": now,
    }


def _changes(
    row: RosterRow, stored: _Stored, district_id: int | None, district_names: dict[int, str]
) -> tuple[tuple[str, str, str], ...]:
    """(field, old, new) of every field the row changes."""
    _id, name, old_district, stage, active, phone, principal_phone = stored
    new_active = active if row.active is None else row.active
    fields: list[tuple[str, str, str]] = []
    if name != row.name:
        fields.append(("name", name, row.name))
    if district_id is None or old_district != district_id:
        fields.append(("district", district_names.get(old_district, "?"), row.district))
    if stage != row.stage.value:
        fields.append(("stage", stage, row.stage.value))
    if active != new_active:
        fields.append(("active", str(active).lower(), str(new_active).lower()))
    for label, old, new in (("phone", phone, row.phone),
                            ("principal_phone", principal_phone, row.principal_phone)):
        if new is not None and new != old:
            fields.append((label, old or "", new))
    return tuple(fields)


def _plan(
    rows: Sequence[RosterRow],
    existing: dict[str, _Stored],
    districts: dict[str, int],
    result: ImportResult,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows to insert and to update; notes each addition and change in `result`."""
    district_names = {id_: name for name, id_ in districts.items()}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        district_id = districts.get(row.district)
        found = existing.get(row.code)
        if found is None:
            result.added.append(Change(row.line, row.code, row.name))
            inserts.append(_new_school(row, district_id, now))
            continue
        fields = _changes(row, found, district_id, district_names)
        if not fields:
            result.unchanged += 1
            continue
        result.updated.append(Change(row.line, row.code, row.name, fields))
        updates.append(
            {
                "id": found[0],
                "name": row.name,
                "district_id": district_id,
                "stage": row.stage.value,
                "active": found[4] if row.active is None else row.active,
                "phone": found[5] if row.phone is None else row.phone,
                "principal_phone": found[6] if row.principal_phone is None
                else row.principal_phone,
                "updated_at": now,
            }
        )
    return inserts, updates


async def import_roster(
    session: AsyncSession,
    rows: Sequence[RosterRow],
    *,
    dry_run: bool = False,
    actor_id: int | None = None,
    source: str = "",
) -> ImportResult:
    """Upsert schools by code in a handful of statements, however long the file."""
    now = utcnow()
    result = ImportResult()
    districts = await _district_ids(session)
    wanted = sorted({row.district for row in rows} - districts.keys())
    result.new_districts = wanted
    if wanted and not dry_run:
        await session.execute(insert(District), [{"name": n, "created_at": now} for n in wanted])
        districts = await _district_ids(session)
    existing = await _stored_schools(session)
    inserts, updates = _plan(rows, existing, districts, result, now)
    in_file = {row.code for row in rows}
    result.not_in_file = sum(
        1 for code, values in existing.items() if values[4] and code not in in_file
    )
    if dry_run:
        return result
    if inserts:
        await session.execute(insert(School), inserts)
    if updates:
        # ORM bulk UPDATE by primary key: one executemany, not a statement per school.
        await session.execute(update(School), updates)
        await forget_moved(session, {s[0]: s[2] for s in existing.values()}, updates)
    if inserts or updates or wanted:
        record(
            session, "roster.import", actor_id=actor_id, source=source,
            added=len(result.added),
            updated=len(result.updated),
            unchanged=result.unchanged,
            new_districts=wanted,
        )
    return result


async def set_active(
    session: AsyncSession, codes: Sequence[str], active: bool, *, actor_id: int | None = None
) -> tuple[list[School], list[str]]:
    """Close or reopen schools; closing keeps their people, submissions and history.

    Returns the schools changed and the codes not found.
    """
    schools = list(
        (await session.execute(select(School).where(School.code.in_(list(codes))))).scalars()
    )
    found = {s.code for s in schools}
    changed = [s for s in schools if s.active != active]
    for school in changed:
        school.active = active
        record(
            session, "school.reopen" if active else "school.close", school.id, actor_id=actor_id,
            code=school.code,
        )
    return changed, [c for c in codes if c not in found]


# --- reading -----------------------------------------------------------------------------


@dataclass
class RosterEntry:
    school: School
    district: District
    contacts: list[Person]

    @property
    def principal(self) -> Person | None:
        return next((p for p in self.contacts if p.role == Role.PRINCIPAL.value), None)

    @property
    def deputies(self) -> list[Person]:
        return [p for p in self.contacts if p.role == Role.DEPUTY.value]


async def roster(
    session: AsyncSession, *, district_id: int | None = None, active_only: bool = False
) -> list[RosterEntry]:
    """Every school with its district and bound people, by district then name in
    reading order (models.roster.order)."""
    query = select(School, District).join(District, School.district_id == District.id)
    if district_id is not None:
        query = query.where(School.district_id == district_id)
    if active_only:
        query = query.where(School.active.is_(True))
    pairs = list((await session.execute(query)).all())
    pairs.sort(key=lambda pair: school_key(pair[1].name, pair[0].name, pair[0].code))
    contacts = await contacts_of(session, [s.id for s, _ in pairs])
    return [RosterEntry(s, d, contacts.get(s.id, [])) for s, d in pairs]


@dataclass
class DistrictSummary:
    district: District
    schools: int
    with_principal: int

    @property
    def without_principal(self) -> int:
        return self.schools - self.with_principal


async def district_summaries(session: AsyncSession) -> list[DistrictSummary]:
    """Active schools per district and how many have a principal connected."""
    principal = (
        select(Person.school_id)
        .where(Person.role == Role.PRINCIPAL.value, Person.school_id.is_not(None))
        .subquery()
    )
    query = (
        select(
            District,
            func.count(School.id),
            func.count(principal.c.school_id),
        )
        .outerjoin(School, (School.district_id == District.id) & School.active.is_(True))
        .outerjoin(principal, principal.c.school_id == School.id)
        .group_by(District.id)
    )
    rows = (await session.execute(query)).all()
    summaries = [DistrictSummary(d, int(n), int(p)) for d, n, p in rows]
    return sorted(summaries, key=lambda s: natural_key(s.district.name))


async def schools_page(
    session: AsyncSession,
    *,
    district_id: int | None = None,
    search: str | None = None,
    without_principal: bool = False,
    page: int = 0,
    per_page: int = 10,
) -> tuple[list[RosterEntry], int]:
    """One page of schools (open first, then by district and name in reading order)
    and how many match."""
    conditions = []
    if district_id is not None:
        conditions.append(School.district_id == district_id)
    if search:
        pattern = f"%{search.strip().lower()}%"
        conditions.append(
            or_(func.lower(School.code).like(pattern), func.lower(School.name).like(pattern))
        )
    if without_principal:
        conditions.append(School.active.is_(True))
        conditions.append(
            School.id.not_in(
                select(Person.school_id).where(
                    Person.role == Role.PRINCIPAL.value, Person.school_id.is_not(None)
                )
            )
        )
    total = int(
        (await session.execute(select(func.count(School.id)).where(*conditions))).scalar_one()
    )
    # Natural order is not SQL's: the matching schools' keys are sorted here (a county's
    # few hundred, a province's tens of thousands of short rows), then one page read.
    matching = (
        select(School.id, School.active, District.name, School.name, School.code)
        .join(District, School.district_id == District.id)
        .where(*conditions)
    )
    keys = list((await session.execute(matching)).all())
    keys.sort(key=lambda k: (not k[1], school_key(k[2], k[3], k[4])))
    start = max(page, 0) * per_page
    ids = [k[0] for k in keys[start : start + per_page]]
    query = (
        select(School, District)
        .join(District, School.district_id == District.id)
        .where(School.id.in_(ids))
    )
    found = {s.id: (s, d) for s, d in (await session.execute(query)).all()}
    pairs = [found[i] for i in ids]
    contacts = await contacts_of(session, ids)
    return [RosterEntry(s, d, contacts.get(s.id, [])) for s, d in pairs], total


async def school_entry(session: AsyncSession, school_id: int) -> RosterEntry | None:
    school = await session.get(School, school_id)
    if school is None:
        return None
    district = await session.get(District, school.district_id)
    assert district is not None
    contacts = await contacts_of(session, [school.id])
    return RosterEntry(school, district, contacts.get(school.id, []))


async def school_by_code(session: AsyncSession, code: str) -> School | None:
    return (
        await session.execute(select(School).where(School.code == code.strip()))
    ).scalar_one_or_none()


async def district_by_name(session: AsyncSession, name: str) -> District | None:
    return (
        await session.execute(select(District).where(District.name == name.strip()))
    ).scalar_one_or_none()
