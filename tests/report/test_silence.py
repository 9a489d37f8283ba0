"""Issue 11, item 1: every message gets an answer. Text nobody waits for, a figure after
pausing or submitting, an unknown command, a photo: the person is told nothing was done
with it, what they can do now (their pending report named, with its button) and whom to
ask; staff and district officers get their home; newcomers the onboarding answer."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import fallback
from models.roster.tables import Person, Role
from models.rounds import Submission, SubmissionStatus
from models.rounds.submissions import Report
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.test_conversation import start, working
from tests.report.test_revisions import open_from_list, prefilled

NOT_WAITING_ZH = "抱歉，我是教育局的填报机器人，此刻没有在等待您输入，这条消息未保存。"
NOT_WAITING_EN = "Sorry, I am the bureau's reporting bot and was not waiting for a message"
HOW_TO_JOIN = (
    "要接入您的学校，请打开教育局发给您的邀请链接，或在此输入邀请码"
    "（16 位字母和数字，例如 ABCD-EFGH-JKMN-PQRS）。"
)
SCHOOL_BUTTONS_ZH = [("📋 我的报表", "rp:l"), ("🏠 我的主页", "menu:home")]
SCHOOL_BUTTONS_EN = [("📋 My reports", "rp:l"), ("🏠 Home", "menu:home")]
# Under the answer to a school's text or file: ask it of the bureau (handlers/inbox.py).
SEND_ZH = [("✉️ 发给教育局", "ib:s")]
SEND_EN = [("✉️ Send to the bureau", "ib:s")]


async def one_answer(user: FakeUser, text: str) -> SentMessage:
    """The bot's answer to `text`, and nothing more."""
    await user.send(text)
    answer = await user.wait_for(lambda _m: True)
    await user.expect_silence(after=answer.seq)
    return answer


async def test_a_question_typed_with_nothing_pending_is_answered(county: County) -> None:
    principal = county.user("principal:S002")
    answer = await one_answer(principal, "你好，请问报表怎么填？")
    text = answer.plain or ""
    assert text.startswith(NOT_WAITING_ZH)
    assert "我也无法回答在这里输入的问题。" in text
    assert "目前没有需要贵校填写的报表。" in text
    assert "/report：本校的报表 · /menu：我的主页 · /help：全部命令" in text
    assert "这是要问青山县教育局的问题吗？按「✉️ 发给教育局」即可发送" in text
    assert text.endswith("对报表有疑问，请联系青山县教育局。")
    assert answer.buttons() == [SEND_ZH, SCHOOL_BUTTONS_ZH]

    # "📋 我的报表" is /report's list.
    await principal.press(answer, "📋 我的报表")
    await principal.wait_for("目前没有需要贵校填写的报表。")


async def test_a_figure_after_pausing_is_not_saved_and_the_report_is_named(
    county: County,
) -> None:
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    await start(county, principal, round_.id, "核定编制数")
    await principal.send("60")
    question = await principal.wait_for("在编教职工数")
    await principal.press(question, "暂停")
    await principal.wait_for("已保存")

    answer = await one_answer(principal, "85")
    text = answer.plain or ""
    assert text.startswith(NOT_WAITING_ZH)
    assert "待提交：编制与师资配备（2026），截止时间：" in text
    assert await working(county) == {("authorized_posts", 0): 60}  # 85 was not stored
    assert answer.buttons() == [
        [("▶️ 继续填报：编制与师资配备 · 2026", f"rp:o:{round_.id}")],
        SEND_ZH,
        SCHOOL_BUTTONS_ZH,
    ]
    # The button goes on where the report stopped.
    await principal.press(answer, "继续填报")
    resumed = await principal.wait_for("欢迎回来")
    assert "在编教职工数" in (resumed.plain or "")


async def test_the_deputy_in_english_is_named_the_report_not_yet_started(
    county: County,
) -> None:
    round_ = await county.open_round("key_teacher_assessment", period="2026")
    await county.open_round(days=20)  # due later: counted, not named
    deputy = county.user("deputy:S001")
    answer = await one_answer(deputy, "hello, how do I fill this in?")
    text = answer.plain or ""
    assert text.startswith(NOT_WAITING_EN)
    assert "I cannot answer questions typed here." in text
    assert "Still to submit: Annual assessment of famous and key teachers (2026), deadline" in text
    assert "\n1 more report is waiting for your school (/report).\n" in text
    assert text.endswith("Questions about a report? Please contact 青山县教育局.")
    [[(start_label, start_data)], send_row, school_row] = answer.buttons()
    assert send_row == SEND_EN
    assert start_label.startswith("📝 Start: ") and start_label.endswith(" · 2026")
    assert start_data == f"rp:o:{round_.id}"
    assert school_row == SCHOOL_BUTTONS_EN


async def test_a_figure_after_submitting_changes_nothing(county: County) -> None:
    round_ = await prefilled(county)
    principal = county.user("principal:S001")
    review = await open_from_list(principal, round_.id, "请核对答案")
    await principal.press(review, "✅ 提交")
    await principal.wait_for("回执编号")
    before = await working(county)

    answer = await one_answer(principal, "85")
    assert (answer.plain or "").startswith(NOT_WAITING_ZH)
    assert "目前没有需要贵校填写的报表。" in (answer.plain or "")
    assert answer.buttons() == [SEND_ZH, SCHOOL_BUTTONS_ZH]
    assert await working(county) == before
    async with county.sessionmaker() as session:
        sub = (await session.execute(select(Submission))).scalar_one()
    assert (sub.status, sub.current_revision) == (SubmissionStatus.SUBMITTED.value, 1)


async def test_an_unknown_command_says_so_with_the_same_help(county: County) -> None:
    principal = county.user("principal:S001")
    answer = await one_answer(principal, "/foo")
    assert (answer.plain or "").startswith("没有这个命令：/foo。")
    assert "对报表有疑问，请联系青山县教育局。" in (answer.plain or "")
    assert answer.buttons() == [SCHOOL_BUTTONS_ZH]

    deputy = county.user("deputy:S001")
    answer = await one_answer(deputy, "/foo@huibao_test_bot bar")
    assert (answer.plain or "").startswith("There is no command /foo.")
    assert answer.buttons() == [SCHOOL_BUTTONS_EN]

    # A command the bot has gets its own answer only.
    listing = await one_answer(principal, "/report")
    assert "没有这个命令" not in (listing.plain or "")


async def test_the_bureaus_contact_is_named_when_set(county: County) -> None:
    county.app.bot_data["services"].settings.bureau.contact = "人事科 0795-1234567"
    answer = await one_answer(county.user("principal:S002"), "请问找谁？")
    assert (answer.plain or "").endswith("对报表有疑问，请联系青山县教育局：人事科 0795-1234567。")
    answer = await one_answer(county.user("deputy:S001"), "who do I ask?")
    assert (answer.plain or "").endswith(
        "Questions about a report? Please contact 青山县教育局: 人事科 0795-1234567."
    )


async def test_a_photo_out_of_context_is_answered(county: County) -> None:
    first = await county.open_round(days=5)
    for period in ("2027", "2028"):
        await county.open_round(period=period, days=10)
    principal = county.user("principal:S001")
    await principal.send_photo(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    answer = await principal.wait_for("不接收文件或图片")
    text = answer.plain or ""
    assert text.startswith("抱歉，这里不接收文件或图片，未作任何处理。")
    assert "待提交：编制与师资配备（2026），截止时间：" in text
    assert "\n本校另有 2 份报表待提交（/report）。\n" in text
    assert answer.buttons() == [
        [("📝 开始填报：编制与师资配备 · 2026", f"rp:o:{first.id}")],
        SEND_ZH,
        SCHOOL_BUTTONS_ZH,
    ]


async def test_staff_and_district_officers_get_their_home(county: County) -> None:
    staff = county.user("staff")
    await staff.send("/menu")
    home = await staff.wait_for("主页")
    answer = await one_answer(staff, "你好")
    text = answer.plain or ""
    assert text.startswith(NOT_WAITING_ZH + "我也无法回答在这里输入的问题。\n以下是您的主页；")
    assert text.endswith(home.plain or "")  # the home screen as /menu shows it
    assert answer.buttons() == home.buttons() and answer.buttons()
    answer = await one_answer(staff, "/foo")
    assert (answer.plain or "").startswith("没有这个命令：/foo。\n以下是您的主页；")

    district = county.roster.districts["河西学区"]
    async with county.sessionmaker() as session, session.begin():
        session.add(
            Person(
                telegram_id=8001,
                name="河西学区李主任",
                role=Role.DISTRICT_OFFICER.value,
                district_id=district.id,
                language="en",
            )
        )
    officer = county.tg.user(8001, "河西学区李主任", language_code="en")
    answer = await one_answer(officer, "status?")
    text = answer.plain or ""
    assert text.startswith(NOT_WAITING_EN)
    assert "Here is your home screen; /help lists all your commands." in text
    assert "\n\nHome · 河西学区李主任\n\n" in text and "河西学区." in text


async def test_newcomers_keep_the_onboarding_answer(county: County) -> None:
    newcomer = county.tg.user(9001, "陈老师", language_code="zh-hans")
    answer = await one_answer(newcomer, "你好")
    assert (answer.plain or "") == HOW_TO_JOIN
    answer = await one_answer(newcomer, "/foo")
    assert (answer.plain or "") == "没有这个命令：/foo。\n\n" + HOW_TO_JOIN
    await newcomer.send_photo(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    answer = await newcomer.wait_for("不接收文件或图片")
    assert (answer.plain or "").endswith(HOW_TO_JOIN)


async def test_a_report_answer_never_reaches_the_fallback(
    county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot path stays as it was: a report's answer pays for no fallback read."""
    reads: list[int] = []
    real = fallback.pending_for_person

    async def counted(session: AsyncSession, person: Person, now: datetime) -> list[Report]:
        reads.append(person.id)
        return await real(session, person, now)

    monkeypatch.setattr(fallback, "pending_for_person", counted)
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    await start(county, principal, round_.id, "核定编制数")
    await principal.send("60")
    await principal.wait_for("在编教职工数")
    assert await working(county) == {("authorized_posts", 0): 60}
    assert reads == []
    await principal.send("/foo")  # and the fallback is what answers the rest
    await principal.wait_for("没有这个命令")
    assert reads == [county.roster.people["principal:S001"].id]
