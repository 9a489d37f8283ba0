"""End to end in chat: staff compose a notice with a file, preview it, send it; principals
receive it with the file and acknowledge it; staff see the counts change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models.db import transaction
from models.notices import Notice, NoticeDraft
from models.roster.tables import Person
from tests.double import FakeUser, SentMessage
from tests.notices.conftest import Sessions
from tests.notices.roster import make_roster, make_staff
from texts.when import show

STAFF_ID = 900
PDF = b"%PDF-1.4 training list: 25 village principals, 200 school leaders\n" * 20
TITLE = "关于报送教师培训完成情况的通知"
TEXT = (
    "关于报送2026年秋季学期教师培训完成情况的通知\n"
    "请各校于11月30日前报送国培、省培、县培及校本研修的完成人数。"
)


async def seed(sessions: Sessions) -> list[int]:
    """Two districts: 城关学区 (S00001, S00003 with nobody connected, S00005) and 东关学区
    (S00002, S00004). Returns the principals' Telegram ids in school order."""
    async with transaction(sessions) as session:
        roster = await make_roster(session, 5, districts=2, unconnected_every=3)
        await make_staff(session, STAFF_ID)
    return roster.telegram_ids


def edited_to(text: str) -> Any:
    def matches(message: SentMessage) -> bool:
        return message.edited and text in (message.plain or "")

    matches.__name__ = f"message edited to {text!r}"
    return matches


def with_button(text: str) -> Any:
    def matches(message: SentMessage) -> bool:
        return any(text in label for row in message.buttons() for label, _data in row)

    matches.__name__ = f"message with button {text!r}"
    return matches


async def compose(staff: FakeUser, *, district: str = "城关学区") -> SentMessage:
    """Walk the composer up to the preview; returns the preview's summary message."""
    await staff.send("/notice")
    await staff.wait_for("New notice")
    await staff.send(TITLE)
    await staff.wait_for("Send the text")
    await staff.send(TEXT)
    attach = await staff.wait_for("attach")
    assert "No attachment" in str(attach.buttons())
    await staff.send_document(PDF, "培训名单.pdf", "application/pdf")
    audience = await staff.wait_for("Who should receive it")
    await staff.press(audience, "By district")
    ticks = await staff.wait_for("Tick the districts")
    await staff.press(ticks, district)
    ticked = await staff.wait_for(lambda m: m.edited and "☑ " + district in str(m.buttons()))
    await staff.press(ticked, "Done")
    ack = await staff.wait_for("acknowledge")
    await staff.press(ack, "Yes, ask for acknowledgement")
    when = await staff.wait_for("When should it go out")
    await staff.press(when, "Send now")
    return await staff.wait_for("Preview")


async def test_compose_preview_send_receive_acknowledge(
    bot: Any, sessionmaker: Sessions
) -> None:
    principals = await seed(sessionmaker)
    async with bot() as running:
        tg = running.tg
        staff = tg.user(STAFF_ID, "王科长", language_code="en")
        users = [tg.user(tid, f"校长{tid}") for tid in principals]
        first, east, east2, fifth = users  # S00001, S00002, S00004, S00005
        summary = await compose(staff)

        # The preview is the real thing: the same file, caption and button recipients get.
        preview = [m for m in staff.messages() if m.document is not None][-1]
        assert await staff.download(preview) == PDF
        assert "Notice from 青山县教育局" in (preview.plain or "")
        assert "关于报送2026年秋季学期" in (preview.plain or "")
        assert preview.buttons() == [[("✅ Acknowledge", "nd:pvack")]]
        plain = summary.plain or ""
        assert "Recipients: 2 people at 2 schools" in plain
        assert "S00003" in plain and "Left out" in plain  # nobody connected there
        await staff.press(preview, "✅ Acknowledge")
        assert "preview" in ((await staff.wait_for_answer()).text or "")

        await staff.press(summary, "Send")
        await staff.wait_for(lambda m: m.edited and "Sending to 2 recipients" in (m.plain or ""))
        report = await staff.wait_for(with_button("Details"), timeout=10)
        assert "Delivered: 2 of 2" in (report.plain or "")
        # The progress message ended on the final figures.
        assert any("Finished: 2 of 2 delivered" in (m.plain or "") for m in staff.messages())

        # 城关学区: the principals of S00001 and S00005 got it; 东关学区 got nothing.
        received = await first.wait_for(lambda m: m.document is not None, after=0)
        assert await first.download(received) == PDF
        assert "青山县教育局通知" in (received.plain or "")
        assert "关于报送2026年秋季学期" in (received.plain or "")
        assert received.buttons()[0][0][0] == "✅ 确认已阅"
        await fifth.wait_for(lambda m: m.document is not None, after=0)
        assert east.messages() == [] and east2.messages() == []

        await first.press(received, "已阅")
        answer = await first.wait_for_answer()
        assert "已确认" in (answer.text or "")
        acknowledged = await first.wait_for(lambda m: m.edited)
        assert "已确认" in acknowledged.buttons()[0][0][0]
        await first.press(acknowledged, acknowledged.buttons()[0][0][0])
        again = await first.wait_for_answer()
        assert "没有变化" in (again.text or "")

        # Staff see the count change: acknowledged 1 of 2, per district, and who has not.
        await staff.press(report, "Details")
        view = await staff.wait_for("Acknowledged: 1 of 2")
        assert "城关学区: 1/2" in (view.plain or "")
        assert "校长5" in (view.plain or "") and "第5小学" in (view.plain or "")
        assert "校长1 " not in (view.plain or "")

        await fifth.press(await fifth.wait_for(lambda m: m.document is not None, after=0), "已阅")
        await fifth.wait_for_answer()
        await staff.press(view, "Refresh")
        await staff.wait_for(lambda m: m.edited and "Acknowledged: 2 of 2" in (m.plain or ""))

        # The draft is gone; the notice and its deliveries are in the database.
        async with running.sessions() as session:
            assert (await session.execute(select(NoticeDraft))).first() is None
            notice = (await session.execute(select(Notice))).scalar_one()
            assert notice.attachment_name == "培训名单.pdf" and notice.requires_ack
        assert tg.unanswered_callbacks() == []


async def test_principals_reopen_their_notices_and_cannot_touch_others(
    bot: Any, sessionmaker: Sessions
) -> None:
    principals = await seed(sessionmaker)
    async with bot() as running:
        tg = running.tg
        staff = tg.user(STAFF_ID, "王科长", language_code="en")
        users = [tg.user(tid, f"校长{tid}") for tid in principals]
        first, east = users[0], users[1]
        await staff.press(await compose(staff), "Send")
        await staff.wait_for(with_button("Details"), timeout=10)
        notice_id = (await first.wait_for(lambda m: m.document is not None, after=0)).buttons()[
            0
        ][0][1].split(":")[1]

        # /notices: the principal's own list, and the notice (with its file) opened again.
        await first.send("/notices")
        listing = await first.wait_for("您最近的通知")
        assert "请确认" in (listing.plain or "") and "📎" in (listing.plain or "")
        await first.press(listing, f"#{notice_id}")
        again = await first.wait_for(lambda m: m.document is not None)
        assert await first.download(again) == PDF

        # Someone the notice was not addressed to: refused, nothing recorded.
        await east.send("/notices")
        own = await east.wait_for("您还没有通知")
        for data in (f"nack:{notice_id}", f"nf:{notice_id}"):
            update_id = await east.press_data(own, data)
            answer = await east.wait_for_answer(update_id)
            assert answer.show_alert and "不是发给您的" in (answer.text or "")
        for data in ("nack:abc", "nack:99999999", "nack:1:2"):
            update_id = await east.press_data(own, data)
            answer = await east.wait_for_answer(update_id)
            assert answer.show_alert, data

        # A principal cannot use the staff side at all.
        await first.send("/notice")
        assert "仅供教育局工作人员" in ((await first.wait_for(lambda m: True)).plain or "")
        async with running.sessions() as session:
            people = (await session.execute(select(Person))).scalars().all()
            assert all(p.role != "staff" or p.telegram_id == STAFF_ID for p in people)
        assert tg.unanswered_callbacks() == []


async def test_composer_explains_limits_edits_schedules_and_refuses_stale_buttons(
    bot: Any, sessionmaker: Sessions
) -> None:
    principals = await seed(sessionmaker)
    async with bot() as running:
        tg = running.tg
        staff = tg.user(STAFF_ID, "王科长", language_code="en")
        await staff.send("/notice")
        await staff.wait_for("New notice")
        await staff.send("关于期末考试安排的通知")
        await staff.wait_for("Send the text")
        # Over Telegram's limit: explained with the numbers, nothing stored, asked again.
        await staff.send("长" * 4090)
        explained = await staff.wait_for("4,096")
        assert "yours has 4090" in (explained.plain or "")
        async with running.sessions() as session:
            draft = (await session.execute(select(NoticeDraft))).scalar_one()
            assert draft.text is None
        await staff.send("<b>关于期末考试安排的通知</b> 请各校做好准备。")
        attach = await staff.wait_for("attach")
        await staff.send("not a file")
        await staff.wait_for("Please send a document or a photo")
        await staff.press(attach, "No attachment")
        audience = await staff.wait_for(edited_to("Who should receive"))
        await staff.press(audience, "Type school codes")
        await staff.wait_for("Type the codes")
        await staff.send("S00001, S99999")
        await staff.wait_for("No school has the code S99999")
        await staff.send("S00001 S00002")
        ack = await staff.wait_for("acknowledge")
        await staff.press(ack, "No")
        when = await staff.wait_for("When should it go out")
        await staff.press(when, "At a time")
        await staff.wait_for("Type the date and time")
        await staff.send("2020-01-01 09:00")
        await staff.wait_for("That time has passed")
        await staff.send("next tuesday")
        await staff.wait_for("like 2026-11-25 09:00")
        await staff.send("2099-01-01 09:00")
        await staff.wait_for("within the next 90 days")
        # A time within the next 90 days, in the bureau's zone.
        soon = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=3)).strftime(
            "%Y-%m-%d 09:00"
        )
        await staff.send(soon)
        at = datetime.fromisoformat(soon).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        shown = show(at, ZoneInfo("Asia/Shanghai"), "full", "en", datetime.now(UTC))
        summary = await staff.wait_for("Preview")
        assert f"Sending: at {shown}" in (summary.plain or "")
        assert "Recipients: 2 people at 2 schools" in (summary.plain or "")
        assert "Acknowledgement: not required" in (summary.plain or "")
        old_send = summary.buttons()[0][0][1]

        # Edit the audience from the preview; the old preview's Send no longer works.
        await staff.press(summary, "Edit")
        edit = await staff.wait_for(lambda m: m.edited and "Audience" in str(m.buttons()))
        await staff.press(edit, "Audience")
        audience = await staff.wait_for(edited_to("Who should receive"))
        await staff.press(audience, "All schools")
        newer = await staff.wait_for("Preview")
        assert "Recipients: 4 people at 4 schools" in (newer.plain or "")
        stale = await staff.press_data(newer, old_send)
        assert "out of date" in ((await staff.wait_for_answer(stale)).text or "")

        send = newer.buttons()[0][0][1]
        await staff.press(newer, "Send")
        scheduled = await staff.wait_for(lambda m: m.edited and "Scheduled for" in (m.plain or ""))
        assert shown in (scheduled.plain or "")
        # Sending twice from the same preview: the second press finds nothing to send.
        again = await staff.press_data(newer, send)
        assert (await staff.wait_for_answer(again)).show_alert
        async with running.sessions() as session:
            notices = (await session.execute(select(Notice))).scalars().all()
            assert len(notices) == 1 and notices[0].scheduled_at is not None
            assert not notices[0].requires_ack
        # Nobody gets it before its time.
        for tid in principals:
            assert tg.messages_to(tid) == []


async def test_an_unfinished_draft_survives_a_restart_and_can_be_cancelled(
    bot: Any, sessionmaker: Sessions
) -> None:
    await seed(sessionmaker)
    async with bot() as running:
        staff = running.tg.user(STAFF_ID, "王科长", language_code="en")
        await staff.send("/notice")
        await staff.wait_for("New notice")
        await staff.send("关于寒假安全教育的通知")
        await staff.wait_for("Send the text")
        await staff.send("请各校于放假前完成寒假安全教育。")
        await staff.wait_for("attach")
    # A new process (a restart): the draft is still there, at the same step.
    async with bot() as running:
        staff = running.tg.user(STAFF_ID, "王科长", language_code="en")
        # From the home screen this time.
        await staff.send("/menu")
        home = await staff.wait_for("Notices")
        await staff.press(home, "New notice")
        offer = await staff.wait_for("unfinished notice")
        assert "关于寒假安全教育的通知" in (offer.plain or "")
        await staff.press(offer, "Continue it")
        attach = await staff.wait_for(lambda m: m.edited and "attach" in (m.plain or ""))
        await staff.press(attach, "Cancel")
        await staff.wait_for(lambda m: m.edited and "discarded" in (m.plain or ""))
        # With no draft, text goes on to other conversations: the composer stays silent,
        # and the fallback answers (tests/report/test_silence.py).
        await staff.send("随便说一句")
        answer = await staff.wait_for("was not waiting for a message")
        assert "Here is your home screen" in (answer.plain or "")
        async with running.sessions() as session:
            assert (await session.execute(select(NoticeDraft))).first() is None
