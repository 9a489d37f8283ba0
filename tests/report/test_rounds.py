"""Collection rounds as staff and schools see them: opening (in chat and from the command
line) tells the schools through the outbox, one round per form and period, rounds close
for entry at their lock, and schools hear of an extension or an early close."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import main
from handlers.rounds import tell_closing
from models.base import utcnow
from models.forms import load_forms
from models.outbox import Delivery
from models.roster.tables import AuditLog, School
from models.rounds import Round
from models.rounds.answers import save_answers
from models.rounds.errors import DuplicateRound
from models.rounds.lifecycle import get_round_school, open_round
from models.rounds.periods import period_label, term_code
from models.rounds.revisions import check_submission, submit
from models.rounds.submissions import get_or_create_submission, school_context
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import FORMS, staffing
from tests.report.test_round_service import GOOD
from texts.when import show

BUREAU_TZ = ZoneInfo("Asia/Shanghai")


def bureau_today() -> date:
    return utcnow().astimezone(BUREAU_TZ).date()


@pytest.fixture
def cli_env(county: County, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`huibao` pointed at the county's database, with no Telegram token at all."""
    monkeypatch.chdir(tmp_path)
    for name in ("HUIBAO_TELEGRAM__TOKEN", "HUIBAO_TELEGRAM__BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.setenv("HUIBAO_FORMS__DIRECTORY", str(FORMS))
    monkeypatch.setenv("HUIBAO_BUREAU__NAME", "青山县教育局")


async def huibao(*args: str) -> int:
    """Run the command line as a bureau's IT person would, beside the running bot."""
    return await asyncio.to_thread(main, list(args))


async def add_unconnected_school(county: County, code: str, district: str) -> None:
    async with county.sessionmaker() as session, session.begin():
        session.add(
            School(
                code=code,
                name="西山教学点",
                district_id=county.roster.districts[district].id,
                stage="teaching_point",
            )
        )


async def submit_for(county: County, round_: Round, school: str) -> None:
    """The school answers everything and submits (as its principal would)."""
    async with county.sessionmaker() as session, session.begin():
        school_row = await session.get(School, county.roster.schools[school].id)
        assert school_row is not None
        stored = await session.get(Round, round_.id)
        assert stored is not None
        sub = await get_or_create_submission(session, stored, school_row.id, now=utcnow())
        await save_answers(session, sub.id, staffing(), GOOD, by=None, now=utcnow())
        place = await get_round_school(session, stored.id, school_row.id)
        context = school_context(school_row)
        _missing, _errors, warnings = check_submission(staffing(), GOOD, context)
        confirmed = [{"rule": w.rule, "comment": "已核实", "message": ""} for w in warnings]
        await submit(
            session, sub, stored, place, staffing(), context,
            by=None, now=utcnow(), confirmed_warnings=confirmed,
        )


async def deliveries(county: County, purpose_start: str) -> list[Delivery]:
    async with county.sessionmaker() as session:
        rows = await session.execute(
            select(Delivery).where(Delivery.purpose.startswith(purpose_start)).order_by(Delivery.id)
        )
        return list(rows.scalars())


def button_labels(message: SentMessage) -> list[str]:
    return [str(b["text"]) for row in message.inline_keyboard for b in row]


async def start_set_up(staff: FakeUser, form_title: str) -> SentMessage:
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), "发起新一轮填报")
    await staff.press(await staff.wait_for("请选择报表"), form_title)
    return await staff.wait_for("哪个时期")


# --- opening ---------------------------------------------------------------------------


async def test_opening_in_chat_announces_through_the_outbox(county: County) -> None:
    await add_unconnected_school(county, "S005", "河西学区")
    staff = county.user("staff")
    await start_set_up(staff, "编制与师资配备")
    await staff.send("2025")
    await staff.press(await staff.wait_for("截止时间是"), "rd:d:7")
    await staff.press(await staff.wait_for("哪些学校需要填报"), "河西学区")
    ticked = await staff.wait_for(lambda m: "✅ 河西学区" in str(m.buttons()))
    await staff.press(ticked, "下一步")
    confirm = await staff.wait_for("确认发起本轮填报")
    await staff.press(confirm, "发起填报")

    # The round's screen names the school where nobody could be told.
    view = await staff.wait_for("应报学校：3 所")
    assert "其中 1 所学校尚无人接入" in (view.plain or "")
    assert "S005 西山教学点" in (view.plain or "")
    # The confirmation becomes the live progress line, then the outbox's report follows,
    # with a button back to the round.
    await staff.wait_for(
        lambda m: m.message_id == confirm.message_id and "2 人中 2 人已送达" in (m.plain or "")
    )
    report = await staff.wait_for("已送达：2 / 2")
    assert "编制与师资配备" in (report.plain or "")
    await staff.press(report, "详情")
    await staff.wait_for(
        lambda m: "应报学校：3 所" in (m.plain or "") and m.message_id > view.message_id
    )

    for key in ("principal:S003", "principal:S004"):
        note = await county.user(key).wait_for("请您填报", after=0)
        assert "📝 开始填报" in button_labels(note)
    assert not county.tg.messages_to(county.roster.people["principal:S001"].telegram_id)
    rows = await deliveries(county, "round:")
    assert {r.purpose for r in rows} == {f"round:{rows[0].purpose.split(':')[1]}:announce"}
    assert len(rows) == 2 and {r.status for r in rows} == {"sent"}


async def test_open_from_the_command_line_for_some_schools(
    county: County, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_unconnected_school(county, "S005", "城关学区")
    deadline = (utcnow() + timedelta(days=10)).astimezone(BUREAU_TZ).strftime("%Y-%m-%d")
    code = await huibao(
        "rounds", "open", "--form", "staffing", "--period", "2026", "--deadline", deadline,
        "--schools", "S001", "S005",
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 school(s)" in out
    assert "announcement queued for 2 people at 1 school(s)" in out
    assert "not told, nobody connected there yet (1):\n  S005 西山教学点" in out

    # No token needed: the running bot sends them, each in the person's language, with
    # the button that starts the report.
    principal = await county.user("principal:S001").wait_for("请您填报", after=0)
    assert "📝 开始填报" in button_labels(principal)
    deputy = await county.user("deputy:S001").wait_for("asks for a report", after=0)
    assert "📝 Start the report" in button_labels(deputy)
    await county.user("deputy:S001").press(deputy, "Start the report")
    await county.user("deputy:S001").wait_for("Authorized posts")
    assert not county.tg.messages_to(county.roster.people["principal:S002"].telegram_id)
    async with county.sessionmaker() as session:
        audit = (
            await session.execute(select(AuditLog).where(AuditLog.action == "round.open"))
        ).scalar_one()
    assert '"S001"' in audit.details and '"schools": 2' in audit.details

    # A second round for the same form and period is refused, and nothing is sent.
    code = await huibao(
        "rounds", "open", "--form", "staffing", "--period", "2026", "--deadline", deadline
    )
    assert code == 2
    assert "already collects staffing for 2026" in capsys.readouterr().err
    assert len(await deliveries(county, "round:")) == 2


async def test_unlock_names_the_school_by_code_and_name(
    county: County, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    round_ = await county.open_round(districts=["城关学区"])
    assert await huibao("rounds", "unlock", str(round_.id), "--school", "S003") == 2
    err = capsys.readouterr().err
    assert f"school S003 河西九年一贯制学校 is not expected in round {round_.id}" in err


# --- one round per form and period -----------------------------------------------------


async def test_a_duplicate_is_refused_when_the_period_is_chosen(county: County) -> None:
    year = str(bureau_today().year)
    existing = await county.open_round(period=year)
    staff = county.user("staff")
    await start_set_up(staff, "编制与师资配备")
    ask = await staff.wait_for("哪个时期")
    await staff.press(ask, "rd:p:0")  # this year: taken
    refusal = await staff.wait_for("已在第")
    text = refusal.plain or ""
    assert f"编制与师资配备（{year}）已在第 {existing.id} 轮收集" in text
    assert "round" not in text  # not the service's English reason
    assert f"📋 打开第 {existing.id} 轮" in button_labels(refusal)
    # Still at the period: another one goes on.
    await staff.send(str(int(year) - 1))
    await staff.wait_for("截止时间是")


async def test_a_term_is_one_period_however_it_is_written(county: County) -> None:
    term = term_code(bureau_today())
    zh = period_label(term, "zh_CN")
    staff = county.user("staff")
    ask = await start_set_up(staff, "教师培训完成情况")
    # The suggestion is the schedules' label, shown in the staff member's language.
    assert zh in button_labels(ask)
    await staff.press(ask, zh)
    await staff.press(await staff.wait_for("截止时间是"), "rd:d:7")
    await staff.press(await staff.wait_for("哪些学校需要填报"), "下一步")
    confirm = await staff.wait_for("确认发起本轮填报")
    assert f"时期：{zh}" in (confirm.plain or "")
    await staff.press(confirm, "发起填报")
    await staff.wait_for("已送达")
    async with county.sessionmaker() as session:
        assert list((await session.execute(select(Round.period))).scalars()) == [term]

    # The same term typed the way people write it is the same period.
    year, season = term.split("-")
    typed = f"{year} {'秋季学期' if season == 'autumn' else '春季学期'}"
    await start_set_up(staff, "教师培训完成情况")
    await staff.send(typed)
    assert "已在第" in ((await staff.wait_for("已在第")).plain or "")
    # And a schedule's round for it is found from the command line too.
    with pytest.raises(DuplicateRound):
        async with county.sessionmaker() as session:
            await open_round(
                session,
                form=load_forms(FORMS).get("training"),
                period=f"{year} {season} term",
                deadline=utcnow() + timedelta(days=3),
                now=utcnow(),
            )


# --- closing by itself at the lock -----------------------------------------------------


def first_button(message: SentMessage, prefix: str) -> str:
    return next(
        str(b["text"])
        for row in message.inline_keyboard
        for b in row
        if str(b.get("callback_data", "")).startswith(prefix)
    )


async def report_rows(user: FakeUser) -> Sequence[str]:
    mark = user.mark()
    await user.send("/report")
    reply = await user.wait_for(lambda m: True, after=mark)
    return [str(b["text"]) for row in reply.inline_keyboard for b in row if
            str(b.get("callback_data", "")).startswith("rp:o:")]


async def test_past_its_lock_a_round_is_closed_everywhere(
    county: County, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    [row] = await report_rows(principal)
    assert row.startswith("📝")
    # The deadline (and with no lock time, entry) passed an hour ago; nobody closed it.
    await county.move_deadline(round_.id, utcnow() - timedelta(hours=1))

    staff = county.user("staff")
    await staff.send("/round")
    listing = await staff.wait_for("填报轮次")
    assert first_button(listing, "rd:v:").startswith("⚪")
    await staff.press(listing, f"rd:v:{round_.id}")
    view = await staff.wait_for("应报学校")
    assert "（已截止）" in (view.plain or "") and "已停止填报：" in (view.plain or "")
    assert "提前结束" not in str(view.buttons())
    await staff.send("/status")
    status = await staff.wait_for("上报率")
    assert first_button(status, "st:r:").startswith("⚪")
    assert await huibao("rounds", "list") == 0
    listed = f"{round_.id}\tstaffing v{round_.form_version}\t2026\tentry closed\t"
    assert listed in capsys.readouterr().out

    # The school still sees it (🔒) while staff may unlock it, but not for ever.
    [row] = await report_rows(principal)
    assert row.startswith("🔒")
    await county.move_deadline(round_.id, utcnow() - timedelta(days=8))
    assert await report_rows(principal) == []
    await staff.send("/round")
    assert first_button(await staff.wait_for("填报轮次"), "rd:v:").startswith("⚪")


# --- extending and closing early --------------------------------------------------------


async def test_schools_that_have_not_submitted_hear_of_an_extension_and_an_early_close(
    county: County,
) -> None:
    round_ = await county.open_round()
    await submit_for(county, round_, "S002")
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), f"rd:v:{round_.id}")
    view = await staff.wait_for("应报学校")
    await staff.press(view, "延期 3 天")
    question = await staff.wait_for("修改截止时间？")
    assert "将通知尚未提交的 3 所学校（4 人）。" in (question.plain or "")
    await staff.press(question, "确认")
    extended = await staff.wait_for("正在通知尚未提交的 3 所学校（共 4 人）")
    assert "进行中" in (extended.plain or "")

    async with county.sessionmaker() as session:
        stored = await session.get(Round, round_.id)
        assert stored is not None
        new_deadline = show(stored.deadline, BUREAU_TZ, "full", "zh_CN", utcnow())
    principal = county.user("principal:S003")
    note = await principal.wait_for("调整了", after=0)
    assert f"新的截止时间：{new_deadline}" in (note.plain or "")
    assert "贵校尚未提交" in (note.plain or "")
    assert "📝 开始填报" in button_labels(note)
    deputy = await county.user("deputy:S001").wait_for("has moved the deadline", after=0)
    assert "New deadline:" in (deputy.plain or "")
    submitted = county.tg.messages_to(county.roster.people["principal:S002"].telegram_id)
    assert not submitted

    # Closing early: the screen shows when entry closed (now), not a time to come.
    await staff.press(extended, "返回本轮")
    await staff.press(await staff.wait_for("应报学校"), "提前结束")
    await staff.press(await staff.wait_for("现在结束本轮填报"), "确认结束")
    closed = await staff.wait_for("（已结束）")
    text = closed.plain or ""
    assert "正在通知尚未提交的 3 所学校（共 4 人）" in text
    now = utcnow()
    shown = [show(now - timedelta(minutes=m), BUREAU_TZ, "full", "zh_CN", now) for m in (0, 1)]
    assert any(f"已停止填报：{s}" in text for s in shown), text
    told = await principal.wait_for("已提前结束", after=0)
    assert "无法再提交" in (told.plain or "") and not told.inline_keyboard
    assert not county.tg.messages_to(county.roster.people["principal:S002"].telegram_id)

    # Telling again (a retried update, a second process) queues nothing new.
    async with county.sessionmaker() as session, session.begin():
        stored = await session.get(Round, round_.id)
        assert stored is not None
        await tell_closing(session, stored, county.app.bot_data["services"].settings)
    closing = await deliveries(county, f"round:{round_.id}:close:")
    assert len(closing) == 4
