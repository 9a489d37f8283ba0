"""A round with district review is opened from the chat's set-up (its toggle) or with
`huibao rounds open --review district`; the round's screen says who reviews, and that a
district without an officer is approved by the bureau directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models.base import utcnow
from models.review import ReviewRound
from models.roster.tables import AuditLog
from models.rounds import Round
from tests.report.conftest import County
from tests.report.test_rounds import BUREAU_TZ, cli_env, huibao
from tests.review.test_review import add_officers

__all__ = ["cli_env"]


async def reviewed_rounds(county: County) -> list[int]:
    async with county.sessionmaker() as session:
        return list((await session.execute(select(ReviewRound.round_id))).scalars())


async def test_the_chat_set_up_toggles_district_review(county: County) -> None:
    await add_officers(county, "河西学区")  # 城关学区 has none
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), "发起新一轮填报")
    await staff.press(await staff.wait_for("请选择报表"), "编制与师资配备")
    await staff.press(await staff.wait_for("哪个时期"), "rd:p:0")
    await staff.press(await staff.wait_for("截止时间是"), "rd:d:7")
    await staff.press(await staff.wait_for("哪些学校需要填报"), "下一步")
    confirm = await staff.wait_for("确认发起本轮填报")
    assert confirm.buttons()[0] == [("学区审核：关", "rd:rv")]
    await staff.press(confirm, "学区审核：关")
    toggled = await staff.wait_for(lambda m: "学区审核：开" in str(m.buttons()))
    assert toggled.message_id == confirm.message_id
    await staff.press(toggled, "发起填报")
    view = await staff.wait_for("学区审核：每份提交的报表先由学区专干审核。")
    assert "城关学区没有学区专干：其学校的报表由教育局直接审核（/review）。" in (view.plain or "")
    async with county.sessionmaker() as session:
        round_id = (await session.execute(select(Round.id))).scalar_one()
        audit = (await session.execute(
            select(AuditLog.action).where(AuditLog.action == "round.review"))).scalars().all()
    assert await reviewed_rounds(county) == [round_id] and audit == ["round.review"]


async def test_without_the_toggle_a_round_has_no_review(county: County) -> None:
    staff = county.user("staff")
    await staff.send("/round")
    await staff.press(await staff.wait_for("填报轮次"), "发起新一轮填报")
    await staff.press(await staff.wait_for("请选择报表"), "编制与师资配备")
    await staff.press(await staff.wait_for("哪个时期"), "rd:p:0")
    await staff.press(await staff.wait_for("截止时间是"), "rd:d:7")
    await staff.press(await staff.wait_for("哪些学校需要填报"), "下一步")
    await staff.press(await staff.wait_for("确认发起本轮填报"), "发起填报")
    view = await staff.wait_for("截止时间")
    assert "学区审核" not in (view.plain or "")
    assert await reviewed_rounds(county) == []


async def test_the_command_line_opens_a_reviewed_round(
    county: County, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    deadline = (utcnow() + timedelta(days=10)).astimezone(BUREAU_TZ).strftime("%Y-%m-%d")
    code = await huibao("rounds", "open", "--form", "staffing", "--period", "2026",
                        "--deadline", deadline, "--review", "district", "--no-announce")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "district review: each submission waits for the district officers" in out
    assert len(await reviewed_rounds(county)) == 1
    with pytest.raises(SystemExit):
        await huibao("rounds", "open", "--form", "staffing", "--period", "2027",
                     "--deadline", deadline, "--review", "bureau")
    assert "invalid choice: 'bureau'" in capsys.readouterr().err
    assert len(await reviewed_rounds(county)) == 1
