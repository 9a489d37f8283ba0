"""End to end against the Bot API double: principals join by link or code; staff manage people."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update

from handlers import menu
from handlers.menu import commands_for
from models.base import utcnow
from models.db import transaction
from models.roster.invites import display, new_code
from models.roster.people import get_person
from models.roster.tables import AuditLog, Person, Role, School
from tests.onboarding.conftest import OTHER, OWN, make_invite, make_person
from texts.i18n import gettext_for
from transport.context import HuibaoApp

Sessions = async_sessionmaker[AsyncSession]
zh = gettext_for("zh_CN")


async def person(sessions: Sessions, telegram_id: int) -> tuple[str, str | None]:
    async with transaction(sessions) as session:
        found = await get_person(session, telegram_id)
        assert found is not None
        school = await session.get(School, found.school_id) if found.school_id else None
        return found.role, school.code if school else None


def chat_commands(running: Any, chat_id: int) -> list[str]:
    commands = running.tg.commands_for("chat", chat_id=chat_id)
    return [name for name, _ in commands or []]


async def test_a_principal_joins_by_deep_link_and_bad_codes_are_refused(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    code = await make_invite(sessionmaker, school=OWN)
    expired = await make_invite(
        sessionmaker, school=OTHER, expires_in=timedelta(days=1), now=utcnow() - timedelta(days=3)
    )

    async def report(update: Update, context: Any) -> None:
        pass

    def principal_command(app: HuibaoApp) -> None:
        # As the report capability registers its commands; removed again below.
        menu.add_command(app, "school_sample", report, "A school command", menu.SCHOOL)

    try:
        async with bot(principal_command) as running:
            await deep_link_scenario(running, sessionmaker, county, code, expired)
    finally:
        menu.COMMANDS.pop("school_sample", None)


async def deep_link_scenario(
    running: Any, sessionmaker: Sessions, county: dict[str, School], code: str, expired: str
) -> None:
    wang = running.tg.user(1001, "王校长")
    await wang.send(f"/start {code}")  # what t.me/<bot>?start=<code> sends
    offer = await wang.wait_for("身份加入")
    assert "示范县第一中学" in offer.plain and "城关学区" in offer.plain
    assert "校长" in offer.plain
    assert await person(sessionmaker, 1001) == ("none", None)  # nothing before Confirm
    await wang.press(offer, "确认")
    welcome = await wang.wait_for("欢迎")
    assert "示范县第一中学" in welcome.plain
    assert await person(sessionmaker, 1001) == ("principal", OWN)
    # The principal's command menu, set for this chat, has the principals' commands.
    expected = [name for name, _ in commands_for(Role.PRINCIPAL)]
    assert chat_commands(running, 1001) == expected and "school_sample" in expected
    await wang.send("/menu")
    home = await wang.wait_for("主页")
    assert "示范县第一中学" in home.plain
    assert not any(county[c].name in home.plain for c in county if c != OWN)

    # The same code again, by someone else: already used, and not by whom.
    li = running.tg.user(1002, "李老师")
    await li.send(f"/start {code}")
    used = await li.wait_for("已被使用")
    assert "王" not in used.plain
    # An expired code and a made-up one.
    await li.send(f"/start {expired}")
    assert "过期" in (await li.wait_for("过期")).plain
    await li.send(f"/start {new_code()}")
    await li.wait_for("邀请码无效")
    assert await person(sessionmaker, 1002) == ("none", None)
    assert chat_commands(running, 1002) == []  # no role, no role commands
    # A start payload that cannot be a code is just a start.
    await li.send("/start hello")
    await li.wait_for("汇报助手")
    assert running.tg.unanswered_callbacks() == []


async def test_the_sixth_wrong_code_in_ten_minutes_is_throttled(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    good = await make_invite(sessionmaker, school=OWN)
    async with bot() as running:
        zhao = running.tg.user(1003, "赵校长")
        for _ in range(5):
            await zhao.send(display(new_code()))  # typed, not by link
            await zhao.wait_for("邀请码无效")
        await zhao.send(display(good))  # even a good code waits now
        wait = await zhao.wait_for("之后再试")
        assert re.search(r"\d\d:\d\d", wait.plain)
        assert await person(sessionmaker, 1003) == ("none", None)
        # A forged Confirm button carrying the code is no way around it: buttons carry a
        # nonce of the person's own offer, never a code.
        update_id = await zhao.press_data(wait, f"inv:y:{good}")
        answer = await zhao.wait_for_answer(update_id)
        assert answer.show_alert and "已失效" in (answer.text or "")
        assert await person(sessionmaker, 1003) == ("none", None)


async def test_typed_codes_coexist_with_conversations(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    """A newcomer's code is onboarding's; a principal's text, even one shaped like a code,
    never is: with nothing waiting for it, it gets the answer for such messages
    (handlers/fallback.py), and the principal stays where they are."""
    await make_person(sessionmaker, 1004, Role.PRINCIPAL, school=OTHER)
    code = await make_invite(sessionmaker, school=OWN)
    async with bot() as running:
        newcomer = running.tg.user(1005, "周老师")
        await newcomer.send(display(code).lower())
        offer = await newcomer.wait_for("身份加入")
        await newcomer.send("你好")
        await newcomer.wait_for("输入邀请码")
        principal = running.tg.user(1004)
        for text in ("1234", display(new_code())):  # the second looks like a code
            await principal.send(text)
            answer = await principal.wait_for("此刻没有在等待您输入")
            assert "邀请码" not in (answer.plain or "")
        assert await person(sessionmaker, 1004) == ("principal", OTHER)
        await newcomer.press(offer, "取消")
        await newcomer.wait_for("已取消")
        assert await person(sessionmaker, 1005) == ("none", None)


async def test_a_replacing_invite_from_chat_moves_the_principal(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, 1010, Role.PRINCIPAL, name="老校长", school=OWN)
    await make_person(sessionmaker, 2000, Role.STAFF, name="张晓燕")
    async with bot() as running:
        old = running.tg.user(1010, "老校长")
        staff = running.tg.user(2000, "张晓燕")
        await staff.send(f"/invite {OWN}")
        card = await staff.wait_for("示范县第一中学")
        assert "老校长" in card.plain
        await staff.press(card, "邀请新校长")
        question = await staff.wait_for("使用新邀请码的人将接替老校长成为校长。")
        await staff.press(question, "确认")
        invitation = await staff.wait_for("https://t.me/")
        assert "现任校长将被移除" in invitation.plain
        link_code = re.search(r"start=([0-9A-Z]{16})", invitation.plain)
        assert link_code is not None
        await staff.wait_for(lambda m: m.photo is not None)  # the QR code to scan

        new = running.tg.user(1011, "新校长")
        await new.send(f"/start {link_code.group(1)}")
        offer = await new.wait_for("身份加入")
        assert "替换" in offer.plain
        await new.press(offer, "确认")
        await new.wait_for("欢迎")
        await old.wait_for("已不再是", after=0)
        assert await person(sessionmaker, 1011) == ("principal", OWN)
        assert await person(sessionmaker, 1010) == ("none", None)
        assert chat_commands(running, 1010) == []  # back to the default list


async def test_staff_unbind_and_admins_make_staff(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, 1020, Role.PRINCIPAL, name="钱校长", school=OTHER)
    async with bot(HUIBAO_BUREAU__ADMINS="[3000]") as running:
        admin = running.tg.user(3000, "局管理员")
        principal = running.tg.user(1020, "钱校长")
        await admin.send("/people 钱")
        found = await admin.wait_for("钱校长")
        await admin.press(found, "钱校长")
        card = await admin.wait_for(lambda m: m.edited and "身份" in (m.plain or ""))
        assert "西山九年一贯制学校" in card.plain
        await admin.press(card, "移除")
        ask = await admin.wait_for("确定移除")
        await admin.press(ask, "确定移除")
        await admin.wait_for("已不再是")
        await principal.wait_for("教育局已解除", after=0)
        assert await person(sessionmaker, 1020) == ("none", None)

        # The school now shows up among those without a principal.
        await admin.send("/people")
        overview = await admin.wait_for("尚无校长接入的学校")
        assert "西山乡：7" in overview.plain

        await admin.send("/people 钱")
        await admin.press(await admin.wait_for("钱校长"), "钱校长")
        card = await admin.wait_for(lambda m: m.edited and "设为" in str(m.buttons()))
        await admin.press(card, "设为教育局工作人员")
        await admin.wait_for("现在是教育局工作人员")
        await principal.wait_for("您现在是教育局工作人员", after=0)
        assert await person(sessionmaker, 1020) == ("staff", None)
        assert "schools" in chat_commands(running, 1020)

    async with transaction(sessionmaker) as session:
        admin_id = (await session.execute(
            select(Person.id).where(Person.telegram_id == 3000)
        )).scalar_one()
        actions = (
            await session.execute(
                select(AuditLog.details).where(
                    AuditLog.action == "role.change", AuditLog.actor_id == admin_id
                )
            )
        ).scalars().all()
    assert len(actions) == 2
    assert '"new_role": "none"' in actions[0] and '"new_role": "staff"' in actions[1]


async def test_staff_browse_schools_and_invite_a_district_officer(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, 2001, Role.STAFF, name="孙科长")
    async with bot() as running:
        staff = running.tg.user(2001, "孙科长")
        await staff.send("/schools")
        districts = await staff.wait_for("各学区学校")
        assert "29" in districts.plain
        await staff.press(districts, "西山乡")
        listing = await staff.wait_for(lambda m: m.edited and "西山乡" in (m.plain or ""))
        assert "7 所学校" in listing.plain
        await staff.press(listing, "邀请学区专干")
        invitation = await staff.wait_for("学区专干")
        assert "西山乡" in invitation.plain and "https://t.me/" in invitation.plain
        await staff.send("/schools 教学点")
        found = await staff.wait_for("匹配的学校")
        assert "龙潭教学点" in found.plain and "示范县第一中学" not in found.plain
        await staff.send("/invite staff")  # staff may not invite staff; admins may
        await staff.wait_for("只有管理员")
        await staff.send("/invite district 火星乡")
        await staff.wait_for("没有名为")


async def test_a_forged_language_button_changes_nothing(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    """The refusal is answered after the transaction, and the language stays as it was."""
    await make_person(sessionmaker, 2001, Role.STAFF, name="李干事")
    async with bot() as running:
        staff = running.tg.user(2001, "李干事")
        await staff.send("/language")
        choose = await staff.wait_for("语言")
        update_id = await staff.press_data(choose, "lang:xx")
        answer = await staff.wait_for_answer(update_id)
        assert answer.show_alert and "已失效" in (answer.text or "")
        async with transaction(sessionmaker) as session:
            found = await get_person(session, 2001)
            assert found is not None and found.language is None
        await staff.press(choose, "English")
        await staff.wait_for("Language set to English")
