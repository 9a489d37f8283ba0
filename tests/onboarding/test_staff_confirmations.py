"""Staff actions that reach people ask first and say exactly what will happen (issue 11):
removing a staff member, and a principal's invitation that revokes the code printed on
the school's sheet. A repeated or stale confirmation changes nothing and says so. And
/schools WORDS pages beyond ten results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.roster.invites import Invite
from models.roster.tables import Person, Role, School
from tests.double import FakeUser, SentMessage
from tests.onboarding.conftest import OWN, make_invite, make_person

Sessions = async_sessionmaker[AsyncSession]
ADMIN, CLERK, STAFF = 9101, 9102, 9103


def _t(message: SentMessage) -> str:
    return message.plain or ""


def _labels(message: SentMessage) -> list[str]:
    return [label for row in message.buttons() for label, _ in row]


async def _role_of(sessions: Sessions, telegram_id: int) -> str:
    async with sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == telegram_id))
        assert person is not None
        return person.role


async def _open_invites(sessions: Sessions, school_code: str) -> list[int]:
    async with sessions() as session:
        school = await session.scalar(select(School).where(School.code == school_code))
        assert school is not None
        query = select(Invite.id).where(
            Invite.school_id == school.id, Invite.revoked_at.is_(None), Invite.used_at.is_(None)
        )
        return list(await session.scalars(query))


async def _staff_list(admin: FakeUser) -> SentMessage:
    await admin.send("/people")
    overview = await admin.wait_for(lambda m: bool(m.buttons()))
    await admin.press(overview, "Bureau staff" if admin.language_code == "en" else "教育局工作人员")
    return await admin.wait_for(lambda m: m.edited)


async def test_removing_a_staff_member_asks_first_zh(
    bot: Callable[..., Any], county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, ADMIN, Role.ADMIN, name="局长")
    await make_person(sessionmaker, CLERK, Role.STAFF, name="人事科李")
    async with bot() as running:
        admin = running.tg.user(ADMIN)
        clerk = running.tg.user(CLERK)
        staff = await _staff_list(admin)
        await admin.press(staff, "人事科李")
        question = await admin.wait_for("移出教育局工作人员？")
        assert "人事科李" in _t(question) and "并会收到告知" in _t(question)
        assert _labels(question) == ["取消", "确认"]
        assert await _role_of(sessionmaker, CLERK) == "staff"  # nothing yet
        await admin.press(question, "确认")
        await admin.wait_for("已不再是工作人员")
        assert await _role_of(sessionmaker, CLERK) == "none"
        await clerk.wait_for("已不再是教育局工作人员", after=0)
        # The same confirmation pressed again: said, not done, nobody told twice.
        told = clerk.mark()
        await admin.press_data(question, f"adm:rY:{await _person_id(sessionmaker, CLERK)}")
        await admin.wait_for("已不是教育局工作人员，本次未作更改。")
        await clerk.expect_silence(within=0.5, after=told)


async def _person_id(sessions: Sessions, telegram_id: int) -> int:
    async with sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_id == telegram_id))
        assert person is not None
        return person.id


async def test_removing_a_staff_member_cancelled_en(
    bot: Callable[..., Any], county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, ADMIN, Role.ADMIN, name="Director")
    await make_person(sessionmaker, CLERK, Role.STAFF, name="Clerk Li")
    async with bot() as running:
        admin = running.tg.user(ADMIN, language_code="en")
        staff = await _staff_list(admin)
        await admin.press(staff, "Remove Clerk Li from staff")
        question = await admin.wait_for("Remove Clerk Li from bureau staff?")
        assert _labels(question) == ["Cancel", "Confirm"]
        await admin.press(question, "Cancel")
        await admin.wait_for(lambda m: m.edited and "Remove Clerk Li from staff" in str(
            m.buttons()))
        assert await _role_of(sessionmaker, CLERK) == "staff"


async def _school_card(user: FakeUser) -> SentMessage:
    await user.send(f"/schools {OWN}")
    found = await user.wait_for(lambda m: bool(m.buttons()))
    await user.press(found, OWN)
    return await user.wait_for(lambda m: m.edited and bool(m.buttons()))


async def test_inviting_a_principal_says_the_printed_code_stops_working_zh(
    bot: Callable[..., Any], county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, STAFF, Role.STAFF, name="人事科王")
    await make_invite(sessionmaker, school=OWN)  # the code printed on the school's sheet
    async with bot() as running:
        staff = running.tg.user(STAFF)
        card = await _school_card(staff)
        await staff.press(card, "邀请校长")
        question = await staff.wait_for(
            "将作废该校现有邀请码（印在邀请单上的那一个），并生成新的邀请码。"
        )
        assert _labels(question) == ["取消", "确认"]
        [before] = await _open_invites(sessionmaker, OWN)  # nothing revoked yet
        await staff.press(question, "确认")
        await staff.wait_for(lambda m: m.kind == "photo")
        [after] = await _open_invites(sessionmaker, OWN)
        assert after != before
        async with sessionmaker() as session:
            revoked = await session.get_one(Invite, before)
            assert revoked.revoked_at is not None  # the printed code no longer works
        # The old confirmation again: the code it named is gone, so nothing is made.
        await staff.press_data(question, f"adm:iY:{county[OWN].id}:p:{before}")
        await staff.wait_for("确认之后邀请码已有变化")
        assert await _open_invites(sessionmaker, OWN) == [after]


async def test_inviting_a_principal_without_a_code_out_is_at_once_en(
    bot: Callable[..., Any], county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, STAFF, Role.STAFF, name="Clerk Wang")
    async with bot() as running:
        staff = running.tg.user(STAFF, language_code="en")
        card = await _school_card(staff)
        await staff.press(card, "Invite the principal")
        await staff.wait_for(lambda m: m.kind == "photo")
        assert len(await _open_invites(sessionmaker, OWN)) == 1
        # A second press now would revoke the code just made: it asks, in English.
        await staff.press(card, "Invite the principal")
        question = await staff.wait_for("revokes the school's current invitation code")
        assert "(the one printed on its invitation sheet)" in _t(question)
        assert _labels(question) == ["Cancel", "Confirm"]
        await staff.press(question, "Cancel")
        await staff.wait_for(lambda m: m.edited and "Invite the principal" in str(m.buttons()))
        assert len(await _open_invites(sessionmaker, OWN)) == 1


async def test_school_search_pages_beyond_ten(
    bot: Callable[..., Any], county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, STAFF, Role.STAFF, name="人事科王")
    await make_person(sessionmaker, CLERK, Role.STAFF, name="Clerk Li")
    matching = [s for s in county.values() if "小学" in s.name]
    assert len(matching) > 10
    async with bot() as running:
        pairs = ((STAFF, "zh-hans", "所学校符合"), (CLERK, "en", "schools match"))
        for user_id, language, header in pairs:
            staff = running.tg.user(user_id, language_code=language)
            await staff.send("/schools 小学")
            first = await staff.wait_for(header)
            assert f"{len(matching)}" in _t(first)
            pager = first.buttons()[-1]
            assert [label for label, _ in pager] == ["1/2", "▶"]
            await staff.press(first, "▶")
            second = await staff.wait_for(lambda m: m.edited and "2/2" in str(m.buttons()))
            shown = [label for row in second.buttons()[:-1] for label, _ in row]
            assert len(shown) == len(matching) - 10
            assert [label for label, _ in second.buttons()[-1]] == ["◀", "2/2"]


async def test_a_district_officer_invitation_that_revokes_one_asks_first(
    bot: Callable[..., Any], county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, STAFF, Role.STAFF, name="人事科王")
    await make_person(sessionmaker, CLERK, Role.STAFF, name="Clerk Li")
    async with bot() as running:
        # No code is out at first: made at once; then each press asks, in zh and en.
        cases = (
            (STAFF, "zh-hans", "邀请学区专干", "将作废该学区现有的学区专干邀请码", "确认", True),
            (CLERK, "en", "Invite a district officer", "revokes the district's current",
             "Confirm", False),
        )
        for user_id, language, label, warning, confirm, none_out in cases:
            staff = running.tg.user(user_id, language_code=language)
            await staff.send("/schools")
            districts = await staff.wait_for(lambda m: bool(m.buttons()))
            await staff.press(districts, "城关学区")
            page = await staff.wait_for(lambda m, b=label: m.edited and b in str(m.buttons()))
            await staff.press(page, label)
            if none_out:
                await staff.wait_for(lambda m: m.kind == "photo")
                await staff.press(page, label)
            question = await staff.wait_for(warning)
            await staff.press(question, confirm)
            await staff.wait_for(lambda m: m.kind == "photo")
