"""The bureau's /status and summary of a reviewed round show where each district's
reports stand; a district officer's /status shows their schools' review states."""

from __future__ import annotations

from models.review.rules import enable
from outputs.summary import build_summary
from tests.report.conftest import County
from tests.review.test_review import (
    OFFICER_ID,
    add_officers,
    open_queue,
    reviewed_round,
    submit,
)


async def test_status_and_summary_show_review_per_district_and_school(county: County) -> None:
    await add_officers(county, "城关学区", "河西学区")
    round_ = await reviewed_round(county)
    officer = county.tg.user(OFFICER_ID, "城关学区专干", language_code="zh-hans")
    await submit(county.user("principal:S001"), round_.id)
    case = await open_queue(officer, "城关第一小学")
    await officer.press(case, "✅ 通过")
    await officer.wait_for("✅ 已通过")

    staff = county.user("staff")
    await staff.send("/status")
    listing = await staff.wait_for("上报率")
    await staff.press(listing, "编制与师资配备")
    view = await staff.wait_for(lambda m: m.edited and "学区审核" in (m.plain or ""))
    assert "城关学区：已通过 1，待审核 0，已退回 0" in (view.plain or "")

    await officer.send("/status")
    listing = await officer.wait_for("上报率")
    await officer.press(listing, "编制与师资配备")
    mine = await officer.wait_for(lambda m: "学区审核" in (m.plain or ""))
    assert "城关第一小学：已通过" in (mine.plain or "")

    settings = county.app.bot_data["services"].settings
    async with county.sessionmaker() as session:
        summary = await build_summary(session, round_.id, "zh_CN", settings=settings)
    assert "城关学区：已通过 1，待审核 0，已退回 0" in summary.text_html


async def test_a_round_without_review_says_nothing_of_it(county: County) -> None:
    round_ = await county.open_round()
    settings = county.app.bot_data["services"].settings
    async with county.sessionmaker() as session:
        summary = await build_summary(session, round_.id, "zh_CN", settings=settings)
    assert "学区审核" not in summary.text_html
    async with county.sessionmaker() as session, session.begin():
        await enable(session, round_.id, actor_id=None, now=round_.opened_at)
    async with county.sessionmaker() as session:
        summary = await build_summary(session, round_.id, "zh_CN", settings=settings)
    assert "学区审核" in summary.text_html
