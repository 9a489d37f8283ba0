"""What people read, in both languages: who they are, the bureau's English name, report
buttons that are never cut, counts and dates (issue 11, items 9, 12 and 16)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from models.base import utcnow
from models.roster.tables import Person
from tests.double import SentMessage
from tests.report.conftest import County
from texts.when import show

TZ = ZoneInfo("Asia/Shanghai")
NAME_EN = "Qingshan County Education Bureau"


def report_buttons(message: SentMessage) -> list[str]:
    return [
        str(b["text"])
        for row in message.inline_keyboard
        for b in row
        if str(b.get("callback_data", "")).startswith("rp:o:")
    ]


async def test_the_bureau_is_named_in_the_readers_language(county: County) -> None:
    county.app.bot_data["services"].settings.bureau.name_en = NAME_EN
    principal = county.user("principal:S001")  # Chinese
    await principal.send("/start")
    zh = (await principal.wait_for("青山县教育局")).plain or ""
    assert NAME_EN not in zh
    deputy = county.user("deputy:S001")  # English
    await deputy.send("/start")
    en = (await deputy.wait_for("This is the reporting assistant of")).plain or ""
    assert f"This is the reporting assistant of {NAME_EN}." in en
    assert "青山县教育局" not in en


async def test_the_home_screen_says_the_principal_of(county: County) -> None:
    principal = county.user("principal:S001")
    await principal.send("/menu")
    zh = (await principal.wait_for("主页")).plain or ""
    assert "的校长。" in zh
    deputy = county.user("deputy:S001")
    await deputy.send("/menu")
    en = (await deputy.wait_for("You are the ")).plain or ""
    assert "You are the deputy / data clerk of " in en
    assert "You are deputy" not in en


async def test_report_buttons_are_short_and_the_line_says_the_rest(county: County) -> None:
    round_ = await county.open_round("key_teacher_assessment", period="2026")
    now = utcnow()

    principal = county.user("principal:S001")
    await principal.send("/report")
    zh = await principal.wait_for("贵校的报表")
    deadline = show(round_.deadline, TZ, "full", "zh_CN", now)
    assert f"📝 名师、骨干教师年度考核 · 2026 · 截止时间：{deadline}" in (zh.plain or "")
    assert deadline.endswith("（北京时间）") and "-" not in deadline
    assert report_buttons(zh) == ["📝 名师、骨干教师年度考核"]

    deputy = county.user("deputy:S001")
    await deputy.send("/report")
    en = await deputy.wait_for("Your school's reports")
    deadline = show(round_.deadline, TZ, "full", "en", now)
    assert "deadline " + deadline in (en.plain or "")
    assert deadline.endswith(" (Beijing time)")
    [button] = report_buttons(en)
    assert button == "📝 Annual assessment of famous and key teachers"
    assert "…" not in button


async def test_a_school_card_says_whether_the_school_is_in_use(county: County) -> None:
    """Not the round's 进行中: a school is 在用 or 停用, with a full-width colon."""
    staff = county.user("staff")
    await staff.send("/schools 城关第一小学")
    found = await staff.wait_for("城关第一小学")
    if "状态" not in (found.plain or ""):
        await staff.press(found, "S001 城关第一小学")
        found = await staff.wait_for(lambda m: "状态" in (m.plain or ""))
    card = found.plain or ""
    assert "状态：在用" in card and "进行中" not in card
    assert "校长：校长S001" in card

    async with county.sessionmaker() as session, session.begin():
        person = await session.get(Person, county.roster.people["staff"].id)
        assert person is not None
        person.language = "en"
    await staff.send("/schools 城关第一小学")
    found = await staff.wait_for(lambda m: "城关第一小学" in (m.plain or "") and m is not found)
    if "Status" not in (found.plain or ""):
        await staff.press(found, "S001 城关第一小学")
        found = await staff.wait_for(lambda m: "Status" in (m.plain or ""))
    assert "Status: active" in (found.plain or "")


async def test_the_round_list_never_cuts_a_button(county: County) -> None:
    round_ = await county.open_round("key_teacher_assessment", period="2026")
    staff = county.user("staff")
    await staff.send("/round")
    zh = await staff.wait_for("填报轮次")
    short = show(round_.deadline, TZ, "short", "zh_CN", utcnow())
    assert f"🟢 名师、骨干教师年度考核 · 2026 · 截止时间：{short}" in (zh.plain or "")
    assert "🟢 名师、骨干教师年度考核 · 2026" in [b for row in zh.buttons() for b, _d in row]

    async with county.sessionmaker() as session, session.begin():
        person = await session.get(Person, county.roster.people["staff"].id)
        assert person is not None
        person.language = "en"
    await staff.send("/round")
    en = await staff.wait_for("Collection rounds")
    short = show(round_.deadline, TZ, "short", "en", utcnow())
    assert f"Annual assessment of famous and key teachers · 2026 · deadline {short}" in (
        en.plain or ""
    )
    labels = [b for row in en.buttons() for b, _d in row]
    assert "🟢 Annual assessment of famous and key teachers · 2026" in labels
    assert not any("…" in label for label in labels)
