"""End to end through the Bot API double: a principal's question reaches /inbox, staff
answer, the principal and the deputy both receive the answer, the thread is marked done;
a district officer of another district can neither see nor answer it, forged buttons
included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from models.db import transaction
from models.inbox import Question, QuestionMessage, ThreadStatus
from models.roster.tables import Person, Role
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, make_staff
from texts.callbacks import AnswerQuestion, OpenQuestion, QuestionDone

STAFF_ID, COLLEAGUE_ID, OFFICER_ID, OTHER_OFFICER_ID = 900, 901, 910, 911
QUESTION = "你好，请问编制表里的“代课教师”要不要算进专任教师？"
ANSWER = "不算。代课教师单独填在第 9 题。"


async def seed(sessions: Sessions, language: str | None = None) -> list[int]:
    """Two districts; school S00001 (district 1) has a principal and a deputy."""
    async with transaction(sessions) as session:
        roster = await make_roster(session, 2, districts=2, deputies_every=1, language=language)
        (await make_staff(session, STAFF_ID)).language = language
        (await make_staff(session, COLLEAGUE_ID, "李老师")).language = language
        for telegram_id, district_id in ((OFFICER_ID, roster.district_ids[0]),
                                         (OTHER_OFFICER_ID, roster.district_ids[1])):
            session.add(Person(telegram_id=telegram_id, name=f"学区{telegram_id}",
                               role=Role.DISTRICT_OFFICER.value, district_id=district_id,
                               language=language))
    return roster.telegram_ids


async def thread_state(sessions: Sessions) -> tuple[str, int]:
    async with sessions() as session:
        status = (await session.execute(select(Question.status))).scalar_one()
        count = (await session.execute(select(func.count(QuestionMessage.id)))).scalar_one()
    return status, count


async def test_question_answered_by_staff_reaches_principal_and_deputy(
    bot: Any, sessionmaker: Sessions
) -> None:
    principal_id, deputy_id, *_ = await seed(sessionmaker)
    async with bot() as running:
        tg = running.tg
        principal = tg.user(principal_id, "校长1")
        deputy = tg.user(deputy_id, "副校长1")
        staff = tg.user(STAFF_ID, "王科长")
        officer = tg.user(OFFICER_ID, "学区910")
        other = tg.user(OTHER_OFFICER_ID, "学区911")

        await principal.send("/ask")
        prompt = await principal.wait_for("请在这里写下给青山县教育局的问题")
        assert prompt.buttons() == [[("取消", "ib:x")]]
        await principal.send(QUESTION)
        await principal.wait_for("已发给青山县教育局。回复会发到这个对话")

        # Staff and the school's district officer hear of it; the other district does not.
        told = await staff.wait_for("📩 第1小学")
        assert QUESTION in (told.plain or "") and "校长1 提问" in (told.plain or "")
        await officer.wait_for("📩 第1小学")
        await other.expect_silence(0.5)

        await staff.send("/inbox")
        inbox = await staff.wait_for("学校来信")
        assert "待回复 1 条" in (inbox.plain or "")
        await staff.press(inbox, "🟠 第1小学")
        thread = await staff.wait_for(lambda m: QUESTION in (m.plain or "") and m.edited)
        assert "待教育局回复" in (thread.plain or "")
        await staff.press(thread, "✍️ 回复")
        await staff.wait_for("请输入给第1小学的回复")
        await staff.send(ANSWER)
        await staff.wait_for("回复已发给第1小学（2 人）。")

        for person in (principal, deputy):
            got = await person.wait_for("📨 青山县教育局回复")
            assert ANSWER in (got.plain or "")
            assert got.buttons() == [[("✍️ 继续提问", "ib:q")]]

        assert await thread_state(sessionmaker) == (ThreadStatus.ANSWERED.value, 2)
        await staff.send("/inbox")
        again = await staff.wait_for("学校来信")
        await staff.press(again, "✉️ 第1小学")
        opened = await staff.wait_for(lambda m: ANSWER in (m.plain or "") and m.edited)
        await staff.press(opened, "✅ 办结")
        await staff.wait_for("已办结。学校再来信时会重新打开。")
        assert (await thread_state(sessionmaker))[0] == ThreadStatus.DONE.value


async def test_other_district_cannot_see_or_answer_even_with_forged_buttons(
    bot: Any, sessionmaker: Sessions
) -> None:
    principal_id, *_ = await seed(sessionmaker, language="en")
    async with bot() as running:
        tg = running.tg
        principal = tg.user(principal_id, "校长1", language_code="en")
        other = tg.user(OTHER_OFFICER_ID, "学区911", language_code="en")
        await principal.send("/ask Do substitute teachers count as full-time teachers?")
        await principal.wait_for("Sent to 青山县教育局.")
        async with sessionmaker() as session:
            question_id = (await session.execute(select(Question.id))).scalar_one()

        await other.send("/inbox")
        inbox = await other.wait_for("Questions from schools")
        assert "0 questions wait for an answer" in (inbox.plain or "")
        assert "第1小学" not in str(inbox.buttons())
        for forged in (OpenQuestion(question_id), AnswerQuestion(question_id),
                       QuestionDone(question_id)):
            await other.press_data(inbox, forged.pack())
            refused = await other.wait_for_answer()
            assert refused.show_alert
            assert refused.text == "This button is no longer valid. Send /menu to start again."
        assert await thread_state(sessionmaker) == (ThreadStatus.OPEN.value, 1)


async def test_a_staff_member_cannot_ask_and_a_principal_cannot_read_the_inbox(
    bot: Any, sessionmaker: Sessions
) -> None:
    principal_id, *_ = await seed(sessionmaker, language="en")
    async with bot() as running:
        tg = running.tg
        principal = tg.user(principal_id, "校长1", language_code="en")
        staff = tg.user(STAFF_ID, "王科长", language_code="en")
        await principal.send("/inbox")
        refusal = await principal.wait_for(lambda m: True)
        assert "Questions from schools" not in (refusal.plain or "")
        await staff.send("/ask hello")
        answer = await staff.wait_for(lambda m: True)
        assert "Sent to" not in (answer.plain or "")
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count(Question.id)))).scalar_one() == 0


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def test_photo_question_own_thread_and_hand_over(bot: Any, sessionmaker: Sessions) -> None:
    _principal_id, deputy_id, *_ = await seed(sessionmaker, language="en")
    async with bot() as running:
        tg = running.tg
        deputy = tg.user(deputy_id, "副校长1", language_code="en")
        staff = tg.user(STAFF_ID, "王科长", language_code="en")
        colleague = tg.user(COLLEAGUE_ID, "李老师", language_code="en")

        await deputy.send("/ask")
        await deputy.wait_for("Write your question to 青山县教育局")
        await deputy.send_photo(PNG, caption="The form shows an error, see the photo")
        await deputy.wait_for("Sent to 青山县教育局.")
        told = await staff.wait_for("📩 Question from 第1小学")
        assert "[with a photo or document]" in (told.plain or "")

        # Staff open it from the notification: the photo is sent again with the thread.
        await staff.press(told, "Open")
        await staff.wait_for("[photo]")
        photo = await staff.wait_for(lambda m: m.photo is not None)
        assert await staff.download(photo) == PNG

        await staff.send("/inbox")
        inbox = await staff.wait_for("1 question waits for an answer")
        await staff.press(inbox, "🟠 第1小学")
        thread = await staff.wait_for(lambda m: m.edited and "The form shows" in (m.plain or ""))
        await staff.press(thread, "👤 Hand to a colleague")
        choose = await staff.wait_for("Hand this question to:")
        assert [label for row in choose.buttons() for label, _ in row][:2] == ["李老师", "学区910"]
        await staff.press(choose, "李老师")
        await staff.wait_for("Handed to 李老师; they have been told.")
        handed = await colleague.wait_for("📩 王科长 handed you the question from 第1小学.")
        await colleague.press(handed, "Open")
        await colleague.wait_for("Handed to 李老师.")

        # The school sees its own thread with /ask.
        await deputy.send("/ask")
        own = await deputy.wait_for("第1小学 (城关学区) · 🟠 waiting for the bureau")
        assert "The form shows an error, see the photo [photo]" in (own.plain or "")


async def test_a_message_nothing_waited_for_can_be_sent_to_the_bureau(
    bot: Any, sessionmaker: Sessions
) -> None:
    principal_id, *_ = await seed(sessionmaker)
    async with bot() as running:
        tg = running.tg
        principal = tg.user(principal_id, "校长1")
        staff = tg.user(STAFF_ID, "王科长")
        await principal.send("你好，请问报表怎么填？")
        answer = await principal.wait_for("这是要问青山县教育局的问题吗？")
        assert ("✉️ 发给教育局", "ib:s") in [b for row in answer.buttons() for b in row]
        # Another message instead of the press: the offer lapses, the new one is offered.
        await principal.send("85")
        second = await principal.wait_for("这是要问青山县教育局的问题吗？")
        await principal.press(second, "✉️ 发给教育局")
        await principal.wait_for("已发给青山县教育局。")
        told = await staff.wait_for("📩 第1小学")
        assert "85" in (told.plain or "") and "怎么填" not in (told.plain or "")
        # The offer is used up: pressing the first button again sends nothing.
        await principal.press(answer, "✉️ 发给教育局")
        refused = await principal.wait_for_answer()
        assert refused.show_alert
    assert await thread_state(sessionmaker) == (ThreadStatus.OPEN.value, 1)
