"""Seed a benchmark database fast: N schools, one staffing round, realistic returns.

PostgreSQL: COPY through asyncpg; SQLite: executemany in one transaction. 200,000
schools × ~17 answers (3.5 million rows) take well under a minute either way.

The round: due 2026-11-20 10:00 UTC, every school expected; 75 % on time, 10 % late,
5 % with a draft, 10 % not started; one submitted school in 20 revised once. Figures
follow DOMAIN.md: a primary school of 20-60 teachers, a senior school of 80-200.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from models.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OPENED = DEADLINE - timedelta(days=14)
STAGES = [
    ("primary", 0.45, (15, 60)),
    ("junior", 0.2, (30, 120)),
    ("senior", 0.08, (80, 200)),
    ("kindergarten", 0.12, (6, 30)),
    ("nine_year", 0.08, (30, 100)),
    ("vocational", 0.03, (50, 150)),
    ("teaching_point", 0.04, (2, 6)),
]
COLLEGE_STAGES = {"primary", "teaching_point", "kindergarten"}
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get("HUIBAO_TEST_POSTGRES_URL", DEFAULT_PG)


def staffing_rows(rng: random.Random, stage: str, lo: int, hi: int) -> list[tuple[str, int]]:
    teachers = rng.randint(lo, hi)
    pg = rng.randint(0, teachers // 10)
    if stage in COLLEGE_STAGES:
        below = rng.randint(0, max(0, teachers // 20))
        college = rng.randint(0, teachers - pg - below)
    else:
        below = 0
        college = rng.randint(0, max(0, (teachers - pg) // 6))
    bachelor = teachers - pg - college - below
    authorized = teachers + rng.randint(0, 12)
    payroll = authorized + rng.randint(-8, 3)
    hires = rng.choice((0, 0, 1, 2, 3))
    rows = [
        ("authorized_posts", authorized),
        ("on_payroll", max(0, payroll)),
        ("full_time_teachers", teachers),
        ("degree_postgraduate", pg),
        ("degree_bachelor", bachelor),
        ("degree_college", college),
        ("degree_below_college", below),
        ("new_hires_total", hires),
        ("key_teachers", teachers // 8),
        ("subject_leaders", teachers // 20),
        ("famous_teachers", teachers // 60),
        ("substitute_teachers", rng.randint(0, max(1, teachers // 10))),
        ("rural_exchange", rng.randint(0, 3)),
    ]
    if hires:
        rows += [
            ("new_hires_open_exam", hires),
            ("new_hires_special_post", 0),
            ("new_hires_free_normal", 0),
        ]
    return rows


class Data:
    """Every row of the seed, generated once from a fixed random seed."""

    def __init__(self, n: int, seed: int = 20261120) -> None:
        rng = random.Random(seed + n)
        self.n = n
        self.districts = [(i + 1, f"第{i + 1}学区") for i in range(max(12, n // 500))]
        weights = [w for _, w, _ in STAGES]
        self.schools: list[tuple[int, str, str, int, str]] = []
        self.submissions: list[tuple[Any, ...]] = []
        self.revisions: list[tuple[Any, ...]] = []
        self.answers: list[tuple[Any, ...]] = []
        self.people: list[tuple[Any, ...]] = []
        sub_id = 0
        for i in range(n):
            sid = i + 1
            stage_i = rng.choices(range(len(STAGES)), weights)[0]
            stage, _, (lo, hi) = STAGES[stage_i]
            district = self.districts[i % len(self.districts)][0]
            self.schools.append((sid, f"S{sid:06d}", f"第{sid}学校", district, stage))
            if i % 3 == 0:
                self.people.append((sid, 1_000_000 + sid, f"校长{sid}", "principal", sid))
            r = rng.random()
            if r >= 0.9:
                continue  # not started: no submission
            sub_id += 1
            started = OPENED + timedelta(hours=rng.randint(1, 200))
            if r >= 0.85:  # a draft
                self.submissions.append((sub_id, sid, "draft", 0, None, None, started))
                for code, v in staffing_rows(rng, stage, lo, hi)[:5]:
                    self.answers.append((sub_id, 0, code, 0, v, started))
                continue
            late = r >= 0.75
            first = DEADLINE + (
                timedelta(hours=rng.randint(1, 72))
                if late
                else -timedelta(hours=rng.randint(1, 300))
            )
            revisions = 2 if i % 20 == 0 else 1
            last = first + timedelta(days=revisions - 1)
            self.submissions.append((sub_id, sid, "submitted", revisions, first, last, started))
            for number in range(1, revisions + 1):
                at = first + timedelta(days=number - 1)
                self.revisions.append(
                    (
                        sub_id,
                        number,
                        at,
                        not late,
                        "" if number == 1 else "更正",
                        uuid.uuid4().hex[:12],
                    )
                )
                for code, v in staffing_rows(rng, stage, lo, hi):
                    self.answers.append((sub_id, number, code, 0, v, at))


STAFFING_SOURCE = (ROOT / "forms" / "staffing.toml").read_text(encoding="utf-8")


def _sqlite_time(t: datetime | None) -> str | None:
    # The exact text SQLAlchemy stores, so that comparisons (string-wise) agree.
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed_sqlite(path: Path, data: Data) -> int:
    """A fresh migrated SQLite database at path; returns the round id."""
    if path.exists():
        path.unlink()
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    t = _sqlite_time
    now = t(OPENED)
    with con:
        con.executemany(
            "INSERT INTO districts (id, name, created_at) VALUES (?, ?, ?)",
            [(i, name, now) for i, name in data.districts],
        )
        con.executemany(
            "INSERT INTO schools (id, code, name, district_id, stage, active, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
            [(*s, now, now) for s in data.schools],
        )
        con.executemany(
            "INSERT INTO people (id, telegram_id, name, role, school_id, reachable, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
            [(*p, now, now) for p in data.people],
        )
        con.execute(
            "INSERT INTO form_versions (code, version, source, created_at) VALUES (?, 1, ?, ?)",
            ("staffing", STAFFING_SOURCE, now),
        )
        cur = con.execute(
            "INSERT INTO rounds (form_code, form_version, period, opened_at, deadline, "
            "grace_minutes, status, audience) "
            "VALUES ('staffing', 1, '2026', ?, ?, 0, 'open', '{}')",
            (now, t(DEADLINE)),
        )
        round_id = int(cur.lastrowid or 1)
        con.executemany(
            "INSERT INTO round_schools (round_id, school_id) VALUES (?, ?)",
            [(round_id, s[0]) for s in data.schools],
        )
        con.executemany(
            "INSERT INTO submissions (id, round_id, school_id, status, current_revision, "
            "first_submitted_at, last_submitted_at, skipped, state, started_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '{}', ?, ?)",
            (
                (sid, round_id, school, st, rev, t(first), t(last), t(started), t(started))
                for sid, school, st, rev, first, last, started in data.submissions
            ),
        )
        con.executemany(
            "INSERT INTO revisions (submission_id, number, submitted_at, on_time, reason, "
            "confirmed_warnings, reference) VALUES (?, ?, ?, ?, ?, '[]', ?)",
            ((s, n, t(at), ok, reason, ref) for s, n, at, ok, reason, ref in data.revisions),
        )
        con.executemany(
            "INSERT INTO answers (submission_id, revision, field, item, value_int, answered_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((s, r, f, i, v, t(at)) for s, r, f, i, v, at in data.answers),
        )
    con.execute("ANALYZE")
    con.close()
    return round_id


def _records(rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    yield from rows


async def _copy_postgres(dsn: str, data: Data) -> int:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        await con.copy_records_to_table(
            "districts",
            records=[(i, n, OPENED) for i, n in data.districts],
            columns=["id", "name", "created_at"],
        )
        await con.copy_records_to_table(
            "schools",
            records=[(*s, True, OPENED, OPENED) for s in data.schools],
            columns=[
                "id",
                "code",
                "name",
                "district_id",
                "stage",
                "active",
                "created_at",
                "updated_at",
            ],
        )
        await con.copy_records_to_table(
            "people",
            records=[(*p, True, OPENED, OPENED) for p in data.people],
            columns=[
                "id",
                "telegram_id",
                "name",
                "role",
                "school_id",
                "reachable",
                "created_at",
                "updated_at",
            ],
        )
        await con.execute(
            "INSERT INTO form_versions (code, version, source, created_at) "
            "VALUES ('staffing', 1, $1, $2)",
            STAFFING_SOURCE,
            OPENED,
        )
        round_id = await con.fetchval(
            "INSERT INTO rounds (form_code, form_version, period, opened_at, deadline, "
            "grace_minutes, status, audience) VALUES ('staffing', 1, '2026', $1, $2, 0, "
            "'open', '{}') RETURNING id",
            OPENED,
            DEADLINE,
        )
        await con.copy_records_to_table(
            "round_schools",
            records=[(round_id, s[0]) for s in data.schools],
            columns=["round_id", "school_id"],
        )
        await con.copy_records_to_table(
            "submissions",
            records=[
                (sid, round_id, school, st, rev, first, last, "[]", "{}", started, started)
                for sid, school, st, rev, first, last, started in data.submissions
            ],
            columns=[
                "id",
                "round_id",
                "school_id",
                "status",
                "current_revision",
                "first_submitted_at",
                "last_submitted_at",
                "skipped",
                "state",
                "started_at",
                "updated_at",
            ],
        )
        await con.copy_records_to_table(
            "revisions",
            records=[
                (s, n, at, ok, reason, "[]", ref) for s, n, at, ok, reason, ref in data.revisions
            ],
            columns=[
                "submission_id",
                "number",
                "submitted_at",
                "on_time",
                "reason",
                "confirmed_warnings",
                "reference",
            ],
        )
        await con.copy_records_to_table(
            "answers",
            records=_records(data.answers),
            columns=["submission_id", "revision", "field", "item", "value_int", "answered_at"],
        )
        for table in ("districts", "schools", "people", "submissions"):
            await con.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await con.execute("ANALYZE")
        return int(round_id)
    finally:
        await con.close()


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(base: str, sql: str) -> None:
    import asyncpg

    con = await asyncpg.connect(asyncpg_dsn(base))
    try:
        await con.execute(sql)
    finally:
        await con.close()


def create_postgres(base: str, name: str) -> str:
    """A new, migrated database `name` next to the base URL's; returns its URL."""
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(base, f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_postgres(base: str, name: str) -> None:
    asyncio.run(_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def seed_postgres(url: str, data: Data) -> int:
    return asyncio.run(_copy_postgres(asyncpg_dsn(url), data))
