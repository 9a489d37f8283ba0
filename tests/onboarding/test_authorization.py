"""Every role-restricted command and button refuses everyone else, politely, by command and
by forged callback data, and nobody sees another school's data.

The matrix is read from the registry in handlers.menu after the Application is built, so
a command or button that any capability registers through menu.add_command /
menu.add_button / menu.add_stale_family is covered here without editing this file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import menu
from models.roster.tables import Role, School
from tests.onboarding.conftest import OTHER, OWN, make_person
from texts.callbacks import KINDS, SEPARATOR, Stale, kind_of

Sessions = async_sessionmaker[AsyncSession]
USER = 4242
APOLOGY = "系统出了点问题"  # the error handler's message: must never be what a refusal looks like


def expected_refusal(role: Role, allowed: frozenset[Role]) -> str:
    if role is Role.NONE:
        return "还没有接入"
    if allowed <= menu.ADMIN:
        return "只有管理员"
    if allowed <= menu.STAFF:
        return "仅供教育局工作人员"
    if allowed <= menu.SCHOOL:
        return "仅供校长和副校长"
    return "无法使用"


def forged_variants(example: str, other_id: int) -> list[str]:
    """The registered example, the same with every number pointing at the other school's id,
    and garbage after the prefix."""
    pointed = re.sub(r"\d+", str(other_id), example)
    return list(dict.fromkeys([example, pointed, example + ":x", example.rstrip("0123456789")]))


BINDINGS: dict[str, tuple[Role, dict[str, str]]] = {
    "principal": (Role.PRINCIPAL, {"school": OWN}),
    "deputy": (Role.DEPUTY, {"school": OWN}),
    "stranger": (Role.NONE, {}),
    "district_officer": (Role.DISTRICT_OFFICER, {"district": "城关学区"}),
    "staff": (Role.STAFF, {}),  # refused only what is for admins
}


@pytest.mark.parametrize("who", list(BINDINGS))
async def test_refused_by_command_and_by_forged_button(
    who: str, bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    role, binding = BINDINGS[who]
    await make_person(sessionmaker, USER, role, name="测试用户", **binding)
    other = county[OTHER]
    # Someone bound to the other school, so people screens would have something to leak.
    await make_person(sessionmaker, 5001, Role.PRINCIPAL, name="隔壁校长", school=OTHER)
    async with bot() as running:
        user = running.tg.user(USER, "测试用户")
        commands = [c for c in menu.COMMANDS.values() if role not in c.roles]
        callbacks = [c for c in menu.CALLBACKS.values() if role not in c.roles]
        refused = {c.name for c in commands}
        if role is not Role.STAFF:
            # The staff surface must exist and be covered; a registry emptied by mistake
            # would otherwise make this test pass vacuously.
            assert {"schools", "people", "invite", "round"} <= refused
            assert "rd:" in {c.prefix for c in callbacks}
            assert len(callbacks) >= 10
        else:
            assert callbacks, "admin-only buttons are refused to staff"
        if not role.is_school_contact:
            assert "report" in refused
        # /cancel is for whoever has conversations: school contacts and staff.
        assert ("cancel" in refused) == (role in (Role.NONE, Role.DISTRICT_OFFICER))

        for spec in commands:
            for text in (f"/{spec.name}", f"/{spec.name} {OTHER}", f"/{spec.name} 隔壁"):
                await user.send(text)
                reply = await user.wait_for(lambda m: True)
                assert expected_refusal(role, spec.roles) in (reply.plain or ""), text

        await user.send("/menu")
        target = await user.wait_for("主页")
        for spec in callbacks:
            for data in forged_variants(spec.example, other.id):
                before = (target.plain, target.reply_markup)
                update_id = await user.press_data(target, data)
                answer = await user.wait_for_answer(update_id)
                assert answer.show_alert, data
                assert expected_refusal(role, spec.roles) in (answer.text or ""), data
                assert (target.plain, target.reply_markup) == before, data

        # Updates of one chat are handled in order, so by now every handler has finished:
        # one refusal per command and the home screen, nothing else.
        await user.expect_silence(0.2, after=user.mark())
        assert len(running.tg.messages_to(USER)) == 3 * len(commands) + 1
        assert not any(m.edited for m in running.tg.messages_to(USER))

        shown = " ".join(
            (m.plain or "") + str(m.reply_markup or "") for m in running.tg.messages_to(USER)
        )
        answers = " ".join(a.text or "" for a in running.tg.callback_answers.values())
        for leak in (other.name, other.code, "隔壁校长"):
            assert leak not in shown and leak not in answers
        assert APOLOGY not in shown and APOLOGY not in answers
        assert running.tg.unanswered_callbacks() == []


async def test_every_kind_of_button_is_in_the_registry(bot: Any) -> None:
    """So the tests above press every button there is: a kind declared in
    texts/callbacks.py but registered some other way (or not at all) fails here."""
    async with bot():
        # The registry is filled as the Application is built (a running one: building one
        # that never starts would leave rooms' module state pointing at it).
        pass
    registered = {spec.prefix: spec for spec in menu.CALLBACKS.values()}
    for prefix, kind in KINDS.items():
        spec = registered.get(prefix + SEPARATOR)
        assert spec is not None, f"{kind.__name__} ({prefix}) is not registered"
        assert kind_of(spec.example) is kind and kind.unpack(spec.example), spec
    # Besides the kinds, only the stale families of rooms (what no kind of theirs takes).
    families = {p for p in registered if kind_of(registered[p].example) is None}
    assert {"rd:", "rp:", "st:"} <= families
    assert len(registered) == len(KINDS) + len(families)


STALE = ("已失效",)
REFUSED = (*STALE, "不是发给您的", "不属于您的学校")


def well_formed(data: str) -> bool:
    kind = kind_of(data)
    try:
        return kind is not None and kind.unpack(data) is not None
    except Stale:
        return False


@pytest.mark.parametrize("who", ["staff", "principal"])
async def test_stale_and_malformed_buttons_are_refused_to_those_allowed(
    who: str, bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    """Staff and principals pass the role check of their buttons, so the handlers' own
    checks on the data are what speaks."""
    role, binding = BINDINGS[who]
    await make_person(sessionmaker, USER, role, name="测试用户", **binding)
    async with bot() as running:
        user = running.tg.user(USER, "测试用户")
        await user.send("/menu")
        target = await user.wait_for("主页")
        for spec in menu.CALLBACKS.values():
            if role not in spec.roles:
                continue
            prefix = spec.prefix
            # The example's numbers beyond any id column's range (examples without a number
            # are valid buttons as they stand).
            huge = re.sub(r"\d+", "9" * 20, spec.example)
            for data in (prefix + "999999", prefix + "999999:999999", prefix + "abc",
                         prefix + "-1", prefix + "1:1:1:1", prefix + "9" * 40,
                         *([huge] if huge != spec.example else [])):
                update_id = await user.press_data(target, data[:64])
                answer = await user.wait_for_answer(update_id)
                assert answer.show_alert, data
                # Well-formed data naming no row of theirs may get the handler's own
                # refusal instead (a principal's "nack:999999": not sent to you).
                said = STALE if who == "staff" or not well_formed(data[:64]) else REFUSED
                assert any(s in (answer.text or "") for s in said), (data, answer.text)
        shown = " ".join(m.plain or "" for m in running.tg.messages_to(USER))
        assert APOLOGY not in shown
        assert running.tg.unanswered_callbacks() == []


# (commands the role's menu and /help must list, commands they must not)
MENUS: dict[str, tuple[set[str], set[str]]] = {
    "principal": ({"report", "cancel", "notices"}, {"round", "schools", "status"}),
    "deputy": ({"report", "cancel", "notices"}, {"round", "schools", "status"}),
    "district_officer": ({"status", "export"}, {"report", "round", "cancel"}),
    "staff": ({"round", "cancel", "status", "notice", "schools"}, {"report"}),
}


@pytest.mark.parametrize("who", list(MENUS))
async def test_each_role_finds_its_commands_in_the_menu_and_in_help(
    who: str, bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    role, binding = BINDINGS[who]
    wanted, unwanted = MENUS[who]
    await make_person(sessionmaker, USER, role, name="测试用户", **binding)
    async with bot() as running:
        user = running.tg.user(USER, "测试用户")
        await user.send("/menu")
        await user.wait_for("主页")
        await user.send("/help")
        shown = (await user.wait_for("您可以做的事")).plain or ""
        # /menu set the chat's command menu before /help was handled (one chat, in order).
        listed = dict(running.tg.commands_for("chat", chat_id=USER) or [])
    assert wanted <= set(listed) and not unwanted & set(listed), listed
    for name in wanted:
        assert f"/{name}：" in shown, name  # one colon style: the Chinese one
    for name in unwanted:
        assert f"/{name}" not in shown, name
    assert ": " not in shown
    if "report" in wanted:
        assert listed["report"] == "本校报表" and "/report：本校报表" in shown
    if "round" in wanted:
        assert listed["round"] == "填报轮次：发起、延期、解锁、结束"
        assert "/round：填报轮次" in shown
    if "cancel" in wanted:
        assert "/cancel：暂停填报" in shown


async def test_help_in_english_lists_report_with_an_english_colon(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, USER, Role.PRINCIPAL, name="Test", school=OWN)
    async with bot() as running:
        user = running.tg.user(USER, "Test", language_code="en")
        await user.send("/help")
        shown = (await user.wait_for("What you can do")).plain or ""
    assert "/report: Your school's reports" in shown
    assert "/cancel: Pause a report or leave a set-up" in shown
    assert "：" not in shown


async def test_identity_line_of_staff_names_the_bureau_once(
    bot: Any, county: dict[str, School], sessionmaker: Sessions
) -> None:
    await make_person(sessionmaker, USER, Role.STAFF, name="工作人员")
    await make_person(sessionmaker, USER + 1, Role.ADMIN, name="管理员")
    async with bot() as running:
        bureau = running.settings.bureau.name
        staff = running.tg.user(USER, "工作人员")
        await staff.send("/menu")
        staff_home = (await staff.wait_for("主页")).plain or ""
        admin = running.tg.user(USER + 1, "管理员")
        await admin.send("/menu")
        admin_home = (await admin.wait_for("主页")).plain or ""
    assert f"您是{bureau}的工作人员。" in staff_home
    assert "的教育局工作人员" not in staff_home
    assert f"您是{bureau}的管理员。" in admin_home
