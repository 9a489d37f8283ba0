"""Done when #1: a principal completes the staffing form from the round's announcement
button to the receipt, one message per field; wrong input is explained, never stored."""

from __future__ import annotations

from sqlalchemy import select

from models.rounds import Answer, Revision, Round, Submission
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing


def button_data(message: SentMessage, prefix: str) -> list[str]:
    return [
        str(b["callback_data"])
        for row in message.inline_keyboard
        for b in row
        if str(b.get("callback_data", "")).startswith(prefix)
    ]


class Chat:
    """A principal's side of the conversation, counting what the bot sends back."""

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.actions = 0

    async def say(self, text: str, expect: str) -> SentMessage:
        self.actions += 1
        await self.user.send(text)
        return await self.user.wait_for(expect)

    async def press(self, message: SentMessage, button: str, expect: str) -> SentMessage:
        self.actions += 1
        await self.user.press(message, button)
        return await self.user.wait_for(expect)


async def open_round_as_staff(county: County) -> None:
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), "发起新一轮填报")
    await staff.press(await staff.wait_for("请选择报表"), "编制与师资配备")
    await staff.press(await staff.wait_for("哪个时期"), "rd:p:0")
    await staff.press(await staff.wait_for("截止时间是"), "rd:d:7")
    audience = await staff.wait_for("哪些学校需要填报")
    await staff.press(audience, "城关学区")
    ticked = await staff.wait_for(lambda m: "✅ 城关学区" in str(m.buttons()))
    assert ticked.message_id == audience.message_id
    assert "2 所学校" in str(ticked.buttons())
    await staff.press(ticked, "下一步")
    confirm = await staff.wait_for("确认发起本轮填报")
    assert "城关学区（2 所）" in (confirm.plain or "")
    await staff.press(confirm, "发起填报")
    # The announcements go through the outbox; its report tells staff when all arrived.
    await staff.wait_for("已送达：3 / 3")


async def test_staffing_from_announcement_to_receipt(county: County) -> None:
    await open_round_as_staff(county)
    user = county.user("principal:S001")
    chat = Chat(user)
    announcement = await user.wait_for("请您填报", after=0)
    assert "编制与师资配备" in (announcement.plain or "")
    # The other district's schools were not asked.
    assert not county.tg.messages_to(county.roster.people["principal:S003"].telegram_id)

    q = await chat.press(announcement, "开始填报", "核定编制数")
    assert "1/18" in (q.plain or "") and "允许范围：0人 至 5,000人" in (q.plain or "")
    # Letters, a negative number and a value over the maximum: each explained, none kept.
    err = await chat.say("很多", "您输入的不是数字")
    assert "允许范围：0人 至 5,000人" in (err.plain or "") and "未保存" in (err.plain or "")
    err = await chat.say("-5", "不能小于 0人")
    err = await chat.say("6000", "不能大于 5,000人")
    assert not await county.answers()
    # Forgiving where it is safe: full-width digits and a trailing unit.
    q = await chat.say("６０人", "在编教职工数")
    assert "2/18" in (q.plain or "")
    await chat.say("57", "专任教师数")
    await chat.say("52", "研究生学历")
    await chat.say("2", "本科学历")
    await chat.say("30", "其中：专科学历")
    await chat.say("1,8", "您输入的不是数字")  # a mangled thousands separator is refused
    await chat.say("18", "专科以下学历")
    # The degree split does not add up (2 + 30 + 18 + 3 = 53, not 52): said at once,
    # with a button to correct each figure, and the form goes on.
    split = await chat.say("3", "四项之和应等于专任教师数（52人）")
    # A primary school: which of them lack even the legal 中师 diploma is asked next.
    assert "未达到中师（中专、高中）毕业的人数" in (split.plain or "")
    assert any(d.startswith("rp:e:") for d in button_data(split, "rp:e:"))
    fix = await chat.press(split, "专科以下学历", "当前答案：3人")
    after_fix = await chat.say("2", "未达到中师")
    assert "数据现已一致" in (after_fix.plain or "")
    assert "四项之和" not in (after_fix.plain or "")
    await chat.say("0", "本年新招聘教师数")
    await chat.say("3", "公开招考")
    await chat.say("2", "特岗教师")
    await chat.say("1", "公费师范生")
    await chat.say("0", "骨干教师数")
    await chat.say("8", "学科带头人数")
    await chat.say("3", "名师数")
    await chat.say("1", "代课教师数")
    await chat.say("4", "交流轮岗")
    subjects = await chat.say("2", "紧缺学科")
    assert "（选填）" in (subjects.plain or "")
    # Ticking edits the keyboard in place; Done answers.
    await user.press(subjects, "英语")
    await user.wait_for(
        lambda m: m.message_id == subjects.message_id and "✅ 英语" in str(m.buttons())
    )
    await user.press(subjects, "体育")
    await user.wait_for(
        lambda m: m.message_id == subjects.message_id and "✅ 体育" in str(m.buttons())
    )
    review = await chat.press(subjects, "选好了", "请核对答案")
    text = review.plain or ""
    assert "1. 核定编制数：60人" in text
    assert "空编数：3人" in text and "超编数" not in text
    assert "学历达标率：100.0%" in text and "小学教师专科及以上学历比例：96.2%" in text
    assert "英语、体育" in text
    receipt = await chat.press(review, "✅ 提交", "回执编号")
    assert "第 1 版" in (receipt.plain or "")
    assert "HB-" in (receipt.plain or "")
    del fix

    # One bot message per principal action, plus the announcement.
    assert len([m for m in user.messages()]) == chat.actions + 1

    # The database holds only valid values: typed, within bounds, and a split that adds up.
    form = staffing()
    async with county.sessionmaker() as session:
        submission = (await session.execute(select(Submission))).scalar_one()
        revision = (await session.execute(select(Revision))).scalar_one()
        round_ = (await session.execute(select(Round))).scalar_one()
        rows = list((await session.execute(select(Answer))).scalars())
    assert submission.current_revision == 1 and revision.on_time
    assert revision.reference in (receipt.plain or "")
    assert round_.created_by == county.roster.people["staff"].id
    for row in rows:
        f = form.field(row.field)
        if f.type == "integer":
            assert row.value_int is not None and f.min <= row.value_int <= f.max  # type: ignore[operator]
    submitted = {r.field: r.value_int for r in rows if r.revision == 1}
    assert submitted["authorized_posts"] == 60
    assert (
        sum(
            submitted[k] or 0
            for k in (
                "degree_postgraduate",
                "degree_bachelor",
                "degree_college",
                "degree_below_college",
            )
        )
        == submitted["full_time_teachers"]
        == 52
    )
    assert {r.value_text for r in rows if r.field == "shortage_subjects"} == {'["english", "pe"]'}
