"""Done when (reminders), end to end: a round opens, principals are told, some submit, the
rest are reminded, and at the deadline staff receive the summary with its chart and
workbook; the workbook's totals match the database.

The real Application (as `huibao run` builds it) talks to the Bot API double. The
scheduler's clock is controlled; the principals answer in real time, so the controlled
moments are placed around the real now: the schedule opens the round yesterday at 10:00
(bureau time), the principals answer now, the reminder goes tomorrow at 09:00 and the
deadline is the day after at 17:00.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import openpyxl
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.db import transaction
from models.roster.tables import Person, Role, School
from models.rounds import Answer, Round, Submission
from models.rounds.schedules import add_schedule
from scheduler.jobs import Scheduler
from tests.double import BotApiDouble, FakeUser, SentMessage
from tests.report.test_staffing_e2e import Chat
from tests.schedule.conftest import (
    SCHOOLS,
    SHANGHAI,
    Clock,
    County,
    Outbox,
    bot_settings,
    form,
    running_bot,
)

STAFF, OFFICER = 7001, 6001  # the officer is 城关学区's
SUBMITTERS = {"S001": 5001, "S003": 5003}
DRAFTER = ("S005", 5005)  # starts the form, never submits
SILENT = ("S002", 5002)  # never starts
# The principal (5001) and English-speaking deputy (5011) of S001, S002 and S003's
# principals (county fixture), and S005's principal added here; S004 has nobody.
TOLD = {5001, 5011, 5002, 5003, 5005}
S005 = ("S005", "河西中心小学", "河西学区", "primary")
ALL_SCHOOLS = [*SCHOOLS, S005]

# What each principal types, and the question the bot asks next (DOMAIN.md's figures).
S001_PRIMARY = [  # 城关第一小学: 2 posts vacant, 41 of 42 teachers college or above
    ("48", "在编教职工数"),
    ("46", "专任教师数"),
    ("42", "其中：研究生学历"),
    ("1", "其中：本科学历"),
    ("28", "其中：专科学历"),
    ("12", "其中：专科以下学历"),
    ("1", "本年新招聘教师数"),
    ("3", "其中：公开招考"),
    ("2", "其中：特岗教师"),
    ("1", "其中：免费师范生"),
    ("0", "骨干教师数"),
    ("6", "学科带头人数"),
    ("2", "名师数"),
    ("1", "代课教师数"),
    ("1", "交流轮岗"),
    ("3", "紧缺学科"),
    ("3,11", "请核对答案"),  # English and PE
]
S003_NINE_YEAR = [  # 河西九年一贯制学校: 4 over the posts, 72 of 78 bachelor or above
    ("86", "在编教职工数"),
    ("90", "专任教师数"),
    ("78", "其中：研究生学历"),
    ("4", "其中：本科学历"),
    ("68", "其中：专科学历"),
    ("6", "其中：专科以下学历"),
    ("0", "本年新招聘教师数"),
    ("0", "骨干教师数"),  # no hires: the three channels are not asked
    ("12", "学科带头人数"),
    ("4", "名师数"),
    ("2", "代课教师数"),
    ("0", "交流轮岗"),
    ("5", "紧缺学科"),
    ("无", "请核对答案"),
]
# The key totals as typed: (authorized, payroll, vacant, over, teachers, hires, subs).
TYPED = {
    "城关学区": (48, 46, 2, 0, 42, 3, 1),
    "河西学区": (86, 90, 0, 4, 78, 0, 0),
}
SUM_TOTALS = (
    "authorized_posts",
    "on_payroll",
    "vacant_posts",
    "over_staffed",
    "full_time_teachers",
    "new_hires_total",
    "substitute_teachers",
)


def at(day: date, hour: int) -> datetime:
    """That day at that hour, bureau time, as the aware UTC time the code uses."""
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(UTC)


def zh_header(item: Any) -> str:
    """A column header as the workbook writes it: "核定编制数（人）"."""
    unit = item.unit.zh if item.unit is not None else ""
    return f"{item.label.zh}（{unit}）" if unit else str(item.label.zh)


def start_button(message: SentMessage) -> tuple[str, str | None]:
    [[button]] = message.buttons()
    return button


async def fill_in(
    user: FakeUser, invitation: SentMessage, script: Sequence[tuple[str, str]]
) -> Chat:
    chat = Chat(user)
    await chat.press(invitation, "开始填报", "核定编制数")
    for typed, expect in script:
        await chat.say(typed, expect)
    return chat


async def scheduler_of(app: Any) -> Scheduler:
    scheduler = app.bot_data["services"].scheduler
    assert isinstance(scheduler, Scheduler)
    # With PostgreSQL the scheduler runs once this process holds the leader lock.
    for _ in range(200):
        if scheduler.running:
            return scheduler
        await asyncio.sleep(0.05)
    raise AssertionError("the scheduler never started")


async def submitted_figures(
    sessionmaker: async_sessionmaker[AsyncSession], round_id: int
) -> dict[str, dict[str, int | None]]:
    """Each submitted school's integer figures of its current revision, from `answers`."""
    async with transaction(sessionmaker) as session:
        rows = await session.execute(
            select(School.code, Answer.field, Answer.value_int)
            .join(Submission, Submission.school_id == School.id)
            .join(
                Answer,
                and_(
                    Answer.submission_id == Submission.id,
                    Answer.revision == Submission.current_revision,
                ),
            )
            .where(
                Submission.round_id == round_id,
                Submission.current_revision > 0,
                Answer.item == 0,
            )
        )
        figures: dict[str, dict[str, int | None]] = {}
        for code, field, value in rows.all():
            figures.setdefault(code, {})[field] = value
        return figures


def key_totals(figures: dict[str, dict[str, int | None]], stages: dict[str, str]) -> dict[str, Any]:
    """The staffing form's key totals over some schools, computed here from their figures."""
    totals: dict[str, Any] = dict.fromkeys(SUM_TOTALS, 0)
    qualified = 0
    for code, f in figures.items():
        a, p = f["authorized_posts"] or 0, f["on_payroll"] or 0
        for name in SUM_TOTALS:
            if name not in ("vacant_posts", "over_staffed"):  # computed, below
                totals[name] += f[name] or 0
        totals["vacant_posts"] += max(a - p, 0)
        totals["over_staffed"] += max(p - a, 0)
        degrees = (f["degree_postgraduate"] or 0) + (f["degree_bachelor"] or 0)
        if stages[code] == "primary":  # college counts for primary schools
            degrees += f["degree_college"] or 0
        qualified += degrees
    teachers = totals["full_time_teachers"]
    totals["qualification_rate"] = (
        (Decimal(qualified) * 100 / teachers).quantize(Decimal("0.1"), ROUND_HALF_UP)
        if teachers
        else None
    )
    return totals


def sheet_rows(book: Any, name: str, first: str) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """The header (name → column) of a sheet's table whose first header is `first`, and
    the rows under it up to the first blank one."""
    rows = list(book[name].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    head = {str(h): i for i, h in enumerate(rows[start]) if h is not None}
    body = []
    for row in rows[start + 1 :]:
        if row[0] is None:
            break
        body.append(row)
    return head, body


async def receive_summary(user: FakeUser, after: int) -> tuple[SentMessage, list[SentMessage], Any]:
    """The deadline summary as a person receives it: text, chart(s), workbook."""
    text = await user.wait_for("已到截止时间", timeout=20, after=after)
    document = await user.wait_for(lambda m: m.kind == "document", timeout=20, after=after)
    photos = [
        m
        for m in user.messages()
        if m.kind == "photo" and text.message_id < m.message_id < document.message_id
    ]
    assert document.document is not None
    assert str(document.document["file_name"]).endswith(".xlsx")
    assert "汇总表" in (document.caption or "")
    for photo in photos:
        assert (await user.download(photo)).startswith(b"\x89PNG")
    book = openpyxl.load_workbook(io.BytesIO(await user.download(document)))
    return text, photos, book


async def test_a_round_from_its_schedule_to_the_deadline_summary(
    db_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    county: County,
    outbox: Outbox,
) -> None:
    staffing = form("staffing")
    today = datetime.now(SHANGHAI).date()
    opens = today - timedelta(days=1)
    opened_at, remind_at = at(opens, 10), at(opens + timedelta(days=2), 9)
    deadline = at(opens + timedelta(days=3), 17)

    # The county of tests/schedule/conftest.py, with one more school: 河西中心小学.
    async with transaction(sessionmaker) as session:
        s005 = School(
            code=S005[0], name=S005[1], district_id=county.districts[S005[2]].id, stage=S005[3]
        )
        session.add(s005)
        await session.flush()
        session.add(
            Person(
                telegram_id=5005,
                name="principal:S005",
                role=Role.PRINCIPAL.value,
                school_id=s005.id,
                language="zh_CN",
            )
        )
        # Every year on this date at 10:00, deadline 3 days later at 17:00; reminded the
        # day before at 09:00 only, summarized at the deadline only.
        await add_schedule(
            session,
            form_code="staffing",
            kind="yearly",
            params={"month": opens.month, "day": opens.day},
            open_time=time(10, 0),
            deadline_days=3,
            deadline_time=time(17, 0),
            policy={
                "weekly_day": "off",
                "days_before": [1],
                "deadline_day": False,
                "summary_days_before": 0,
            },
            starts_on=opens,
            created_by=county.people["staff"].id,
        )
    district_of = {code: district for code, _n, district, _s in ALL_SCHOOLS}
    stage_of = {code: stage for code, _n, _d, stage in ALL_SCHOOLS}

    clock = Clock(opened_at)
    async with BotApiDouble() as tg:
        users = {
            chat: tg.user(chat, language_code="en" if chat == 5011 else "zh-hans")
            for chat in (*TOLD, STAFF, OFFICER)
        }
        settings = bot_settings(db_url, tg, bureau={"name": "青山县教育局"})
        async with running_bot(settings, clock) as app:
            scheduler = await scheduler_of(app)

            # 1. The schedule fires: the round opens and every connected contact is told.
            invitations = {
                chat: await users[chat].wait_for(
                    "asks for a report" if chat == 5011 else "请您填报",
                    timeout=20,
                    after=0,
                )
                for chat in TOLD
            }
            async with transaction(sessionmaker) as session:
                round_ = (await session.execute(select(Round))).scalar_one()
            period = str(opens.year)
            assert round_.period == period and round_.deadline == deadline
            assert round_.opened_at == opened_at
            for chat, invitation in invitations.items():
                label, callback = start_button(invitation)
                assert callback == f"rp:o:{round_.id}"
                # The announcement of a round opened in chat (texts.rounds.announcement).
                if chat == 5011:
                    assert "Staffing and teachers" in (invitation.plain or "")
                    assert label == "📝 Start the report"
                else:
                    assert "青山县教育局" in (invitation.plain or "")
                    assert "编制与师资配备" in (invitation.plain or "")
                    assert f"（{period}" in (invitation.plain or "")
                    assert "截止时间：" in (invitation.plain or "")
                    assert label == "📝 开始填报"
            opened = await outbox.new()
            assert {q.chat_id for q in opened} == TOLD
            assert {q.purpose for q in opened} == {f"reminder:{round_.id}:open"}
            assert not users[STAFF].messages() and not users[OFFICER].messages()

            # 2. Two principals fill in the whole form and submit; a third starts only.
            for code, script in (("S001", S001_PRIMARY), ("S003", S003_NINE_YEAR)):
                principal = users[SUBMITTERS[code]]
                answering = await fill_in(principal, invitations[SUBMITTERS[code]], script)
                receipt = await answering.press(principal.last(), "✅ 提交", "回执编号")
                assert "第 1 版" in (receipt.plain or "")
            drafter = users[DRAFTER[1]]
            draft = Chat(drafter)
            await draft.press(invitations[DRAFTER[1]], "开始填报", "核定编制数")
            await draft.say("30", "在编教职工数")

            # 3. The day before the deadline, 09:00: only the schools still owing it.
            marks = {chat: users[chat].mark() for chat in TOLD}
            clock.now = remind_at
            result = await scheduler.tick()
            assert result is not None and result.reminders == 2
            reminded = await outbox.new()
            assert {q.chat_id for q in reminded} == {SILENT[1], DRAFTER[1]}
            assert {q.purpose for q in reminded} == {
                f"reminder:{round_.id}:before:1:{(opens + timedelta(days=2)).isoformat()}"
            }
            silent = await users[SILENT[1]].wait_for("提醒", after=marks[SILENT[1]])
            assert "尚未开始" in (silent.plain or "")
            started = await drafter.wait_for("提醒", after=marks[DRAFTER[1]])
            assert "已开始填写，尚未提交" in (started.plain or "")
            for reminder in (silent, started):
                assert start_button(reminder)[1] == f"rp:o:{round_.id}"
            # Nothing was queued for the submitters (S001's deputy included): quiet.
            for chat in (5001, 5011, 5003):
                await users[chat].expect_silence(within=0.2, after=marks[chat])

            # 4. The deadline: staff get the whole county, the officer 城关学区.
            staff_mark, officer_mark = users[STAFF].mark(), users[OFFICER].mark()
            clock.now = deadline
            result = await scheduler.tick()
            assert result is not None and result.summaries == 2, result
            summaries = [q for q in await outbox.new() if q.purpose.startswith("summary:")]
            assert {q.chat_id for q in summaries} == {STAFF, OFFICER}
            for q in summaries:
                assert q.kinds == ("text", "photo", "photo", "document")
            text, photos, book = await receive_summary(users[STAFF], staff_mark)
            officer_text, officer_photos, officer_book = await receive_summary(
                users[OFFICER], officer_mark
            )
            figures = await submitted_figures(sessionmaker, round_.id)

    # The summary text: the reporting rate, by district, the key totals.
    plain = text.plain or ""
    assert "上报率 40.0%" in plain and "5 所学校中 2 所已报" in plain
    assert "城关学区：50.0% · 按时 1 · 逾期 0 · 未报 1" in plain
    assert "河西学区：33.3% · 按时 1 · 逾期 0 · 未报 2" in plain
    assert "核定编制数：134人" in plain and "专任教师数：120人" in plain
    assert len(photos) == 2
    officer_plain = officer_text.plain or ""
    assert "学区：城关学区" in officer_plain
    assert "上报率 50.0%" in officer_plain and "河西" not in officer_plain
    assert len(officer_photos) == 2

    # The database holds what the principals typed, and nothing of the unsubmitted draft.
    assert set(figures) == {"S001", "S003"}
    by_district = {
        name: key_totals(
            {c: f for c, f in figures.items() if district_of[c] == name},
            stage_of,
        )
        for name in TYPED
    }
    for name, typed in TYPED.items():
        assert tuple(by_district[name][k] for k in SUM_TOTALS) == typed
    overall = key_totals(figures, stage_of)
    assert overall["qualification_rate"] == Decimal("94.2")  # (41 + 72) / 120

    # The workbook's Summary sheet: counts by district and key totals equal the database.
    head, rows = sheet_rows(book, "汇总", "学区")
    lines = {row[0]: row for row in rows}
    # The total says it covers the 2 schools that reported of 5, and a note says so.
    note = "注：各项合计只含已上报学校的数据。"
    assert set(lines) == {"城关学区", "河西学区", "合计（已上报 2/5 所）", note}
    lines["合计"] = lines.pop("合计（已上报 2/5 所）")
    del lines[note]
    expected_counts = {
        # expected, on time, late, in progress, not started
        "城关学区": (2, 1, 0, 0, 1),
        "河西学区": (3, 1, 0, 1, 1),  # S005's draft, S004 (nobody connected)
        "合计": (5, 2, 0, 1, 2),
    }
    counts = ("应报", "按时", "逾期", "填报中", "未开始")
    totals_of = {"合计": overall, **by_district}
    headers = {kt.code: zh_header(kt) for kt in staffing.key_totals}
    for name, line in lines.items():
        assert tuple(line[head[c]] for c in counts) == expected_counts[name], name
        for code in SUM_TOTALS:
            assert line[head[headers[code]]] == totals_of[name][code], (name, code)
        rate = line[head[headers["qualification_rate"]]]
        assert Decimal(str(rate)) == totals_of[name]["qualification_rate"], (name, rate)
    assert lines["合计"][head["上报率（%）"]] == 40

    # The Data sheet: one row per expected school, the submitted figures as numbers.
    head, rows = sheet_rows(book, "明细", "学校代码")
    returns = {row[0]: row for row in rows}
    assert set(returns) == {"S001", "S002", "S003", "S004", "S005"}
    status = {code: row[head["状态"]] for code, row in returns.items()}
    assert status == {
        "S001": "按时",
        "S002": "未开始",
        "S003": "按时",
        "S004": "未开始",
        "S005": "填报中",
    }
    integer_fields = [f for f in staffing.fields if f.type == "integer" and f.group is None]
    for code, row in returns.items():
        for f in integer_fields:
            shown = row[head[zh_header(f)]]
            if code in figures:
                assert shown == figures[code].get(f.code), (code, f.code)
            else:
                assert shown is None, (code, f.code)  # a draft is not a return
    computed = {c.code: zh_header(c) for c in staffing.computed}
    assert returns["S001"][head[computed["vacancies"]]] == 2
    assert returns["S003"][head[computed["vacancies"]]] == -4
    assert "英语" in str(returns["S001"][head[zh_header(staffing.field("shortage_subjects"))]])

    # The officer's workbook holds 城关学区 only.
    head, rows = sheet_rows(officer_book, "明细", "学校代码")
    assert {row[0] for row in rows} == {"S001", "S002"}
    head, rows = sheet_rows(officer_book, "汇总", "学区")
    officer_lines = {row[0]: row for row in rows}
    officer_total = officer_lines["合计（已上报 1/2 所）"]
    assert officer_total[head["应报"]] == 2
    assert officer_total[head[headers["authorized_posts"]]] == 48
