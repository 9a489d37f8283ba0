"""/phone through the Bot API double: the contact button, a typed number, a colleague's
card refused, a bad number refused, removal; strangers cannot."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.roster.tables import AuditLog, Person, Role
from tests.double import BotApiDouble, SentMessage
from tests.status.factories import Factory

PRINCIPAL, OFFICER, STRANGER, COLLEAGUE = 701, 702, 703, 704


@pytest.fixture
async def people(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        f = Factory(session)
        east = await f.district("东城学区")
        school = await f.school(east, "实验小学", code="E01")
        await f.person(Role.PRINCIPAL, "王校长", school=school, telegram_id=PRINCIPAL)
        await f.person(Role.DISTRICT_OFFICER, "东城张", district=east, telegram_id=OFFICER,
                       language="en")


async def _phone(sessionmaker: async_sessionmaker[AsyncSession], telegram_id: int) -> str | None:
    async with sessionmaker() as session:
        return await session.scalar(select(Person.phone).where(Person.telegram_id == telegram_id))


def _t(message: SentMessage) -> str:
    return message.plain or ""


def _keyboard(message: SentMessage) -> list[list[dict[str, object]]]:
    markup = message.reply_markup or {}
    rows: list[list[dict[str, object]]] = markup.get("keyboard", [])
    return rows


async def test_principal_shares_their_own_contact(
    status_bot: BotApiDouble, people: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    principal = status_bot.user(PRINCIPAL)
    await principal.send("/phone")
    screen = await principal.wait_for("您还没有留下电话号码")
    assert "教育局工作人员和本学区专干" in (screen.plain or "")
    [[button]] = _keyboard(screen)
    assert button["request_contact"] is True and "发送我的手机号" in str(button["text"])
    # A colleague's card is refused and stores nothing.
    await principal.send_contact("+86 139 0000 1111", user_id=COLLEAGUE, first_name="李老师")
    refused = await principal.wait_for("别人的联系人")
    assert "没有做任何改动" in (refused.plain or "")
    assert await _phone(sessionmaker, PRINCIPAL) is None
    # Their own, as Telegram sends it (no +): stored normalised, the keyboard removed.
    await principal.send_contact("8613812345678")
    saved = await principal.wait_for("已改为")
    assert "13812345678" in (saved.plain or "")
    assert (saved.reply_markup or {}).get("remove_keyboard") is True
    assert await _phone(sessionmaker, PRINCIPAL) == "13812345678"
    await principal.send("/phone")
    shown = await principal.wait_for("您的电话号码：13812345678")
    assert _keyboard(shown)
    async with sessionmaker() as session:
        actions = list(await session.scalars(
            select(AuditLog.details).where(AuditLog.action == "person.phone")
        ))
    assert len(actions) == 1 and "contact" in actions[0] and "138" not in actions[0]


async def test_typed_numbers_bad_numbers_and_removal(
    status_bot: BotApiDouble, people: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    officer = status_bot.user(OFFICER, language_code="en")
    await officer.send("/phone 0797 812 3456")
    await officer.wait_for("Your phone number is now 0797-8123456")
    await officer.send("/phone 12345")
    refused = await officer.wait_for("is not a phone number I can read")
    assert "0731-84123456" in _t(refused) and "Nothing was changed" in _t(refused)
    assert await _phone(sessionmaker, OFFICER) == "0797-8123456"
    await officer.send("/phone 0797-8123456")
    await officer.wait_for("was already 0797-8123456; nothing changed")
    await officer.send("/phone clear")
    await officer.wait_for("Your phone number has been removed.")
    assert await _phone(sessionmaker, OFFICER) is None
    await officer.send("/phone clear")
    await officer.wait_for("nothing to remove")


async def test_strangers_cannot_give_a_number(
    status_bot: BotApiDouble, people: None, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    stranger = status_bot.user(STRANGER)
    await stranger.send("/phone 13812345678")
    await stranger.wait_for("还没有接入")
    await stranger.send_contact("13812345678")
    await stranger.wait_for("还没有接入")  # since the contact was sent
    assert len(stranger.messages()) == 2
    assert await _phone(sessionmaker, STRANGER) is None
