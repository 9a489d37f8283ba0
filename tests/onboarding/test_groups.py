"""Groups and channels: everything but /help is private-chat only, and an invitation's
Confirm button binds only the person who sent the code, once.

In a group the bot answers one line asking to talk privately (with a button that opens
the private chat) and changes nothing; a button pressed on a group message is refused
with an alert; ordinary group chatter gets no answer at all.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import menu
from models.base import utcnow
from models.db import transaction
from models.roster.invites import (
    Invite,
    InviteAttempt,
    InviteOffer,
    Outcome,
    display,
    make_offer,
    redeem_offer,
)
from models.roster.people import get_person
from models.roster.tables import Person, Role, School
from tests.double import SentMessage, _Chat
from tests.onboarding.conftest import OTHER, OWN, make_invite, make_person
from texts.commands import BASE_COMMANDS

Sessions = async_sessionmaker[AsyncSession]
GROUP = -1001234567890
PRIVATELY = "请私聊我"
BOT_LINK = "https://t.me/huibao_test_bot"
BUTTONS_REFUSED = "按钮只能在与我的私聊中使用"
STALE = "此按钮已失效"


async def bound(sessions: Sessions, telegram_id: int) -> tuple[str, int | None] | None:
    async with transaction(sessions) as session:
        person = await get_person(session, telegram_id)
        return (person.role, person.school_id) if person else None


async def count(sessions: Sessions, model: Any) -> int:
    async with transaction(sessions) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def asks_privately(message: SentMessage) -> bool:
    return PRIVATELY in (message.plain or "") and message.buttons() == [
        [("私聊机器人", BOT_LINK)]
    ]


async def test_start_with_a_code_in_a_group_binds_nobody_and_the_code_still_works(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    code = await make_invite(sessionmaker, school=OWN)
    async with bot() as running:
        wang = running.tg.user(1001, "王校长")
        li = running.tg.user(1002, "李老师")
        in_group = wang.in_group(GROUP)
        for text in (f"/start {code}", f"/start@huibao_test_bot {code}", display(code)):
            await in_group.send(text)
        # The two commands get the line; the typed code is group chatter: no answer.
        first = await in_group.wait_for(asks_privately, after=0)
        second = await in_group.wait_for(asks_privately, after=first.seq)
        await li.in_group(GROUP).expect_silence(0.3, after=second.seq)
        shown = " ".join((m.plain or "") + str(m.reply_markup) for m in in_group.messages())
        assert "确认" not in shown and code not in shown and "示范县第一中学" not in shown
        assert len(in_group.messages()) == 2
        # Nothing was written: no person, no wrong-code attempt, no offer.
        assert await bound(sessionmaker, 1001) is None
        assert await count(sessionmaker, InviteAttempt) == 0
        assert await count(sessionmaker, InviteOffer) == 0

        # The same code privately is still good, for the person who sends it.
        await wang.send(f"/start {code}")
        offer = await wang.wait_for("身份加入")
        await wang.press(offer, "确认")
        await wang.wait_for("欢迎")
        assert await bound(sessionmaker, 1001) == ("principal", county[OWN].id)
        assert await bound(sessionmaker, 1002) is None
        assert running.tg.unanswered_callbacks() == []


async def test_confirm_binds_only_the_person_who_sent_the_code_and_only_once(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    code = await make_invite(sessionmaker, school=OWN)
    async with bot() as running:
        wang = running.tg.user(1001, "王校长")
        mallory = running.tg.user(1666, "群友")
        await wang.send(f"/start {code}")
        offer = await wang.wait_for("身份加入")
        confirm = next(d for row in offer.buttons() for label, d in row if label == "确认")
        assert confirm is not None and code not in confirm and display(code) not in confirm

        # Another person forges Wang's Confirm in their own chat, and a Confirm with the code.
        await mallory.send("/start")
        own_message = await mallory.wait_for("汇报助手")
        for data in (confirm, f"inv:y:{code}", "inv:y:", f"inv:y:{confirm[6:][::-1]}"):
            update_id = await mallory.press_data(own_message, data)
            answer = await mallory.wait_for_answer(update_id)
            assert answer.show_alert and STALE in (answer.text or ""), data
        # ... and presses it on a message in a group they share: refused before anything.
        group = wang.in_group(GROUP)
        await group.send("/help")
        help_message = await group.wait_for("您可以做的事")
        for presser in (mallory.in_group(GROUP), group):  # even Wang, in the group
            update_id = await presser.press_data(help_message, confirm)
            answer = await presser.wait_for_answer(update_id)
            assert answer.show_alert and BUTTONS_REFUSED in (answer.text or "")
        assert await bound(sessionmaker, 1666) == ("none", None)
        assert await bound(sessionmaker, 1001) == ("none", None)
        assert await count(sessionmaker, InviteAttempt) == 0  # forged buttons guess nothing

        # Wang's own button still works, once.
        await wang.press(offer, "确认")
        await wang.wait_for("欢迎")
        assert await bound(sessionmaker, 1001) == ("principal", county[OWN].id)
        update_id = await wang.press_data(offer, confirm)
        answer = await wang.wait_for_answer(update_id)
        assert answer.show_alert and STALE in (answer.text or "")
        assert running.tg.unanswered_callbacks() == []


async def test_only_the_latest_offer_confirms(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    own = await make_invite(sessionmaker, school=OWN)
    other = await make_invite(sessionmaker, school=OTHER)
    async with bot() as running:
        wang = running.tg.user(1001, "王校长")
        await wang.send(f"/start {own}")
        first = await wang.wait_for("示范县第一中学")
        await wang.send(f"/start {other}")
        second = await wang.wait_for("西山九年一贯制学校")
        update_id = await wang.press(first, "确认")
        answer = await wang.wait_for_answer(update_id)
        assert answer.show_alert and STALE in (answer.text or "")
        assert "示范县第一中学" in (first.plain or "")  # left as it was
        assert await bound(sessionmaker, 1001) == ("none", None)
        # Cancel of the old offer does not withdraw the new one.
        await wang.press(first, "取消")
        await wang.wait_for("已取消")
        await wang.press(second, "确认")
        await wang.wait_for("欢迎")
        assert await bound(sessionmaker, 1001) == ("principal", county[OTHER].id)


async def test_an_offer_expires_and_is_used_once(
    county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_invite(sessionmaker, school=OWN)
    await make_person(sessionmaker, 1001)
    now = utcnow()
    async with transaction(sessionmaker) as session:
        person = await get_person(session, 1001)
        assert person is not None
        found = (await session.execute(select(Invite))).scalar_one()
        nonce = await make_offer(session, person, found, now=now - timedelta(hours=25))
    async with transaction(sessionmaker) as session:
        person = await get_person(session, 1001)
        assert person is not None
        assert (await redeem_offer(session, nonce, person, now=now)).outcome is Outcome.STALE
    async with transaction(sessionmaker) as session:
        person = await get_person(session, 1001)
        assert person is not None
        nonce = await make_offer(session, person, found, now=now)
        assert (await redeem_offer(session, nonce, person, now=now)).ok
        assert (await redeem_offer(session, nonce, person, now=now)).outcome is Outcome.STALE
    assert await bound(sessionmaker, 1001) == ("principal", county[OWN].id)


STAFF_SCREENS = ("/people", f"/invite {OWN}", "/invite staff", "/schools", "/menu",
                 "/status", "/notices")


async def test_staff_commands_in_a_group_show_no_names_and_no_codes(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, 2000, Role.ADMIN, name="张晓燕")
    await make_person(sessionmaker, 5001, Role.PRINCIPAL, name="隔壁校长", school=OTHER)
    async with bot() as running:
        staff = running.tg.user(2000, "张晓燕").in_group(GROUP)
        commands = {f"/{c}" for c in menu.COMMANDS} | {f"/{n}" for n, _d in BASE_COMMANDS}
        commands -= {"/help"}
        assert {"/people", "/invite", "/round", "/report"} <= commands  # not vacuous
        texts = [*STAFF_SCREENS, *sorted(commands)]
        for text in texts:
            await staff.send(text)
        replies: list[SentMessage] = []
        after = 0
        for _ in texts:
            reply = await staff.wait_for(lambda m: True, after=after)
            replies.append(reply)
            after = reply.seq
        await staff.expect_silence(0.3, after=after)
        assert all(asks_privately(r) for r in replies), [r.plain for r in replies]
        assert len(staff.messages()) == len(texts)
        shown = " ".join((m.plain or "") + str(m.reply_markup) for m in staff.messages())
        for leak in ("隔壁校长", "张晓燕", county[OWN].name, county[OTHER].name, "start="):
            assert leak not in shown
        assert await count(sessionmaker, Invite) == 0  # /invite made no code


async def test_every_button_pressed_in_a_group_is_refused(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    """Every registered prefix, and the unregistered ones (language, invitation, report)."""
    await make_person(sessionmaker, 2000, Role.ADMIN, name="张晓燕")
    async with bot() as running:
        staff = running.tg.user(2000, "张晓燕").in_group(GROUP)
        await staff.send("/help")
        target = await staff.wait_for("您可以做的事")
        before = (target.plain, target.reply_markup)
        examples = [c.example for c in menu.CALLBACKS.values()]
        examples += ["lang:en", "inv:y:abc", "inv:n", "rp:x:1", menu.HOME]
        assert len(examples) >= 15
        for data in examples:
            update_id = await staff.press_data(target, data)
            answer = await staff.wait_for_answer(update_id)
            assert answer.show_alert and BUTTONS_REFUSED in (answer.text or ""), data
        await staff.expect_silence(0.3, after=target.seq)
        assert (target.plain, target.reply_markup) == before
        async with transaction(sessionmaker) as session:
            admin = await get_person(session, 2000)
            assert admin is not None and admin.language is None  # lang:en changed nothing


async def test_help_works_in_a_group_and_chatter_gets_no_answer(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    async with bot() as running:
        zhou = running.tg.user(1005, "周老师").in_group(GROUP)
        english = running.tg.user(1006, "Ann", language_code="en").in_group(GROUP)
        await zhou.send("/help")
        shown = await zhou.wait_for("您可以做的事")
        assert "/language" in (shown.plain or "") and "私聊" in (shown.plain or "")
        assert shown.buttons() == [[("私聊机器人", BOT_LINK)]]
        # Group chatter, a command for another bot, an edit: nothing at all.
        mark = zhou.mark()
        await zhou.send("大家好，明天开会")
        await zhou.send("/start@other_bot hello")
        await zhou.send("hello there friend")
        await zhou.expect_silence(0.3, after=mark)
        # A mention or a reply to the bot: one line, in the person's language.
        await zhou.send("@huibao_test_bot 怎么填报？")
        mentioned = await zhou.wait_for(asks_privately)
        await english.reply(mentioned, "how do I join?")
        answer = await english.wait_for("private chat")
        assert answer.buttons() == [[("Open a private chat", BOT_LINK)]]
        assert "/help" in (answer.plain or "")
        await english.expect_silence(0.3, after=answer.seq)
        assert len(zhou.messages()) == 3
        # Only /help wrote anything (it identifies the person like any command).
        assert await bound(sessionmaker, 1006) is None


async def test_a_channel_post_gets_the_line_and_changes_nothing(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    code = await make_invite(sessionmaker, school=OWN)
    channel_id = -1009876543210
    async with bot() as running:
        info = {"id": channel_id, "type": "channel", "title": "示范县教育局通知"}
        channel = _Chat(channel_id, info)
        running.tg._chats[channel_id] = channel
        text = f"/start {code}"
        sent_before = len(running.tg.sent)
        post = {
            "message_id": channel.allocate_id(),
            "chat": info,
            "date": int(time.time()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        }
        channel.user_messages[post["message_id"]] = post  # so that a reply can quote it
        running.tg.enqueue_update({"channel_post": post})
        await running.tg.wait_sent(sent_before + 1)
        [reply] = running.tg.messages_to(channel_id)
        assert asks_privately(reply)
        assert await count(sessionmaker, Person) == 0


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_plain_groups_too(
    chat_type: str, bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    code = await make_invite(sessionmaker, school=OWN)
    async with bot() as running:
        member = running.tg.user(1001, "王校长").in_group(-4242, "群", chat_type)
        await member.send(f"/start {code}")
        await member.wait_for(asks_privately)
        assert await bound(sessionmaker, 1001) is None
