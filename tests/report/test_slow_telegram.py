"""A slow Telegram answer to one staff member does not hold up the principals.

Telegram took 10 s to answer the prompt of a staff member's notice draft (a slow network,
or a long flood wait): while the draft's transaction stayed open around that call, SQLite's
write lock stayed with it and every principal's answer waited behind it, one failing with
"系统出了点问题" (issue 9, item 7). Handlers now commit before they call Telegram, so a
principal's typed answer is stored and answered while the staff member's call still waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from models import txguard
from models.rounds import WORKING, Submission
from models.rounds.answers import load_answers
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import staffing

DELAY = 10.0
# Far below the delay, far above an answer step on a busy machine (tens of milliseconds).
BOUND = 4.0
STAFF_CALLS = ("sendMessage", "editMessageText", "editMessageReplyMarkup")


async def on_payroll(county: County) -> object:
    async with county.sessionmaker() as session:
        sub = (
            await session.execute(
                select(Submission).where(
                    Submission.school_id == county.roster.schools["S001"].id
                )
            )
        ).scalar_one()
        answers = dict(await load_answers(session, sub.id, WORKING, staffing()))
        return answers.get(("on_payroll", 0))


async def within(seconds: float, condition: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `condition` holds, polled; fails after `seconds`."""
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


Slow = Callable[[], None]


async def new_notice(staff: FakeUser, slow: Slow) -> None:
    slow()
    await staff.send("/notice")


def has_button(data: str) -> Callable[[SentMessage], bool]:
    return lambda m: data in str(m.buttons())


async def by_district(staff: FakeUser, slow: Slow) -> None:
    """Draft buttons edit the pressed message; the district step reads the districts."""
    await staff.send("/notice")
    await staff.wait_for(has_button("nd:cancel"))  # step 1: the title
    await staff.send("期末工作安排的通知")
    await staff.wait_for(has_button("nd:cancel"))  # step 2: the text
    await staff.send("请各校于1月15日前报送期末工作安排。")
    attachment = await staff.wait_for(has_button("nd:noatt"))
    await staff.press_data(attachment, "nd:noatt")
    audience = await staff.wait_for(has_button("nd:aud:d"))
    slow()
    await staff.press_data(audience, "nd:aud:d")


Action = Callable[[FakeUser, Slow], Awaitable[None]]


async def staff_action_waits(county: County, action: Action) -> None:
    """The staff member acts; Telegram holds its answer in their chat for DELAY seconds."""
    staff = county.user("staff")
    staff_chat = staff.chat_id
    mark = 0

    def slow() -> None:
        nonlocal mark
        mark = len(county.tg.requests)
        county.tg.delay_chat(staff_chat, DELAY, STAFF_CALLS)

    await action(staff, slow)

    async def staff_call_waiting() -> bool:
        return any(
            method in STAFF_CALLS and values.get("chat_id") == staff_chat
            for method, values in county.tg.requests[mark:]
        )

    await within(BOUND, staff_call_waiting)


@pytest.mark.parametrize("action", [new_notice, by_district], ids=["/notice", "by-district"])
async def test_a_principal_answers_while_telegram_keeps_staff_waiting(
    county: County, action: Action, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The staff member's call goes out even if made in a transaction (the guard still
    # fails the test then, at teardown): what is measured is what principals would see.
    monkeypatch.setenv(txguard.ENV, "collect")
    round_ = await county.open_round()
    principal = county.user("principal:S001")
    await principal.send("/report")
    await principal.press(
        await principal.wait_for(lambda m: "rp:o:" in str(m.buttons())), f"rp:o:{round_.id}"
    )
    await principal.wait_for("核定编制数")
    await principal.send("60")
    await principal.wait_for("在编教职工数")

    await staff_action_waits(county, action)
    started = time.monotonic()
    await principal.send("57")

    async def stored() -> bool:
        return await on_payroll(county) == 57

    committed = await within(DELAY, stored)
    await principal.wait_for("专任教师数", timeout=DELAY)
    answered = time.monotonic() - started
    print(f"principal's answer during a {DELAY:.0f} s staff delay: "
          f"committed after {committed:.3f} s, next question after {answered:.3f} s")
    assert committed < BOUND and answered < BOUND
    assert not [m for m in principal.messages() if "系统出了点问题" in (m.plain or "")]
