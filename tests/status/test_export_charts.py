"""/export in chat: the workbook arrives with a "📊 Charts" button, and pressing it
sends the round's charts (as the deadline summary draws them), in zh_CN and en; a
district officer's charts are their district's; others and stale rounds are refused."""

from __future__ import annotations

import pytest

from tests.double import BotApiDouble, FakeUser, SentMessage
from tests.status.test_handlers import OFFICER, PRINCIPAL, STAFF, world
from texts.callbacks import ExportCharts

__all__ = ["world"]  # the fixture, shared with the /status tests

PNG = b"\x89PNG\r\n\x1a\n"


async def _workbook(user: FakeUser, round_label: str) -> SentMessage:
    await user.send("/export")
    choose = await user.wait_for(lambda m: bool(m.buttons()))
    await user.press(choose, round_label)
    return await user.wait_for(lambda m: m.kind == "document")


async def _photos(user: FakeUser, last: str) -> list[SentMessage]:
    """The charts sent, once the one whose caption ends with `last` has arrived."""
    await user.wait_for(lambda m: m.kind == "photo" and (m.caption or "").endswith(last))
    return [m for m in user.messages() if m.kind == "photo"]


async def test_staff_get_the_charts_beside_the_workbook_in_english(
    status_bot: BotApiDouble, world: dict[str, int]
) -> None:
    staff = status_bot.user(STAFF, language_code="en")
    document = await _workbook(staff, "Staffing")
    assert document.caption == "4 schools, 2 reported."
    assert document.buttons() == [[("📊 Charts", ExportCharts(world["round"]).pack())]]
    await staff.press(document, "📊 Charts")
    answer = await staff.wait_for_answer()
    assert answer.text == "Drawing the charts…"
    photos = await _photos(staff, "(2/2)")
    assert [p.caption for p in photos] == [
        "Staffing and teachers · 2026: Reporting rate by district (1/2)",
        "Staffing and teachers · 2026: The form's key figure (2/2)",
    ]
    assert (await staff.download(photos[0])).startswith(PNG)


async def test_an_officer_gets_their_districts_charts_in_chinese(
    status_bot: BotApiDouble, world: dict[str, int]
) -> None:
    officer = status_bot.user(OFFICER)  # Chinese by default
    document = await _workbook(officer, "编制与师资配备")
    assert document.caption == "共 2 所学校，0 所已上报。"
    assert document.buttons() == [[("📊 图表", ExportCharts(world["round"]).pack())]]
    await officer.press(document, "📊 图表")
    # Nothing reported in 西城学区 yet: the form's own chart has nothing to draw.
    photos = await _photos(officer, "（1/1）")
    assert [p.caption for p in photos] == ["编制与师资配备 · 2026 · 西城学区：各学区上报率（1/1）"]


@pytest.mark.parametrize("user_id", [PRINCIPAL, STAFF])
async def test_refused_and_stale_chart_buttons_send_nothing(
    status_bot: BotApiDouble, world: dict[str, int], user_id: int
) -> None:
    user = status_bot.user(user_id, language_code="en")
    await user.send("/start")
    reply = await user.wait_for(lambda m: True)
    round_id = world["round"] if user_id == PRINCIPAL else 99_999
    await user.press_data(reply, ExportCharts(round_id).pack())
    answer = await user.wait_for_answer()
    assert answer.show_alert
    expected = "not available to you" if user_id == PRINCIPAL else "This round no longer exists."
    assert expected in (answer.text or "")
    assert all(m.kind != "photo" for m in user.messages())
