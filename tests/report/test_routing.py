"""Where a message that is not a command goes (handlers/routing.py), read like its table:
what the person is doing decides, in this order: a report, a notice draft waiting for
input (staff), a round set-up, joining (no role yet), nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import build_application
from handlers import routing
from handlers.report import KIND_REPORT, KIND_ROUND
from handlers.routing import MESSAGE_GROUP, Doing, doing
from models.notices import NoticeDraft
from models.roster.invites import InviteOffer, looks_like_code
from models.roster.tables import Role
from models.rounds import Conversation, Round
from tests.double import BotApiDouble
from tests.report.conftest import County, settings_for
from tests.report.test_conversation import start, working
from tests.report.test_rounds import start_set_up

CODE_SHAPED = "ABCD-EFGH-JKMN-PQRS"


def answer(value: bool) -> Callable[[], Awaitable[bool]]:
    async def waits() -> bool:
        return value

    return waits


@pytest.mark.parametrize(
    ("conversation", "role", "draft_waits", "expected"),
    [
        # In a report, the report takes the text, whatever else waits.
        (KIND_REPORT, Role.PRINCIPAL, False, Doing.REPORT),
        (KIND_REPORT, Role.NONE, False, Doing.REPORT),  # replaced: the report says so
        # Staff: a draft waiting for input before their round set-up.
        (KIND_ROUND, Role.STAFF, True, Doing.NOTICE_DRAFT),
        (None, Role.ADMIN, True, Doing.NOTICE_DRAFT),
        (KIND_ROUND, Role.STAFF, False, Doing.ROUND_SETUP),
        # A draft counts only for staff (the draft refuses anyone else).
        (KIND_ROUND, Role.PRINCIPAL, True, Doing.ROUND_SETUP),
        (None, Role.NONE, True, Doing.JOINING),
        # No role, no conversation: joining; a role and nothing waiting: nothing.
        (None, Role.NONE, False, Doing.JOINING),
        (None, Role.PRINCIPAL, False, Doing.NOTHING),
        (None, Role.STAFF, False, Doing.NOTHING),
        (None, Role.DISTRICT_OFFICER, False, Doing.NOTHING),
    ],
)
async def test_what_the_person_is_doing_decides(
    conversation: str | None, role: Role, draft_waits: bool, expected: Doing
) -> None:
    assert await doing(conversation, role, answer(draft_waits)) is expected


async def test_the_draft_question_is_only_asked_of_staff() -> None:
    async def must_not_ask() -> bool:
        raise AssertionError("a principal's text paid for the draft check")

    for conversation in (KIND_REPORT, KIND_ROUND, None):
        await doing(conversation, Role.PRINCIPAL, must_not_ask)
        await doing(conversation, Role.DEPUTY, must_not_ask)


def test_every_kind_has_exactly_one_route() -> None:
    assert set(routing.MESSAGE_ROUTES) == set(Doing)


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the router's draft checks (notices.input.draft_waits_for)."""
    calls: list[int] = []
    real = routing.draft_waits_for

    async def counted(session: AsyncSession, telegram_id: int, now: datetime) -> bool:
        calls.append(telegram_id)
        return await real(session, telegram_id, now)

    monkeypatch.setattr(routing, "draft_waits_for", counted)
    return calls


async def test_a_principal_mid_report_typing_a_code_shaped_text_answers_the_report(
    county: County, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert looks_like_code(CODE_SHAPED)
    checks = counting(monkeypatch)
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    await start(county, principal, round_.id, "核定编制数")

    await principal.send(CODE_SHAPED)
    # The report's refusal of a non-number, the same question again; no invitation offer.
    refused = await principal.wait_for("❌")
    assert "inv:" not in str(refused.buttons())
    async with county.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(InviteOffer)) == 0
    await principal.send("60")
    await principal.wait_for("在编教职工数")
    assert await working(county) == {("authorized_posts", 0): 60}
    # The hot path: a principal's answers never ask whether a notice draft waits.
    assert checks == []


async def test_staff_with_a_waiting_draft_and_a_round_set_up_the_draft_takes_the_text(
    county: County, db_url: str, tg: BotApiDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building the Application again (as tests and the CLI do) adds no second route or
    # draft check to the running one.
    built = [build_application(settings_for(db_url, tg)) for _ in range(2)]
    for app in (*built, county.app):
        assert len(app.handlers[MESSAGE_GROUP]) == 1
    checks = counting(monkeypatch)
    staff = county.user("staff")
    await start_set_up(staff, "编制与师资配备")  # the set-up now waits for a period
    await staff.send("/notice")
    await staff.wait_for(lambda _m: True)  # the draft's first step: its text

    await staff.send("2025 年秋季学期教师培训通知")
    await staff.wait_for("第 2 步")  # the draft took it and asks for an attachment
    await staff.expect_silence(after=staff.mark())  # and nothing else answered it
    assert checks == [staff.id]
    staff_id = county.roster.people["staff"].id
    async with county.sessionmaker() as session:
        draft = await session.get(NoticeDraft, staff_id)
        assert draft is not None and "教师培训通知" in (draft.title or "")  # step 1: the title
        conversation = await session.get(Conversation, staff_id)
        assert conversation is not None and conversation.kind == KIND_ROUND  # still there
        assert await session.scalar(select(func.count()).select_from(Round)) == 0


async def test_with_no_draft_waiting_the_round_set_up_takes_the_text(county: County) -> None:
    staff = county.user("staff")
    await start_set_up(staff, "编制与师资配备")
    await staff.send("2025")
    await staff.wait_for("截止时间是")


async def test_a_file_from_someone_without_a_waiting_draft_gets_the_fallback(
    county: County,
) -> None:
    principal = county.user("principal:S001")
    await principal.send_photo(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    answer = await principal.wait_for("不接收文件或图片")
    await principal.expect_silence(after=answer.seq)  # one answer, not one per room
