"""Where the person is, in terms they count in; choice options listed once; refusals that
name their question; Chinese numerals. Driven through the bot with the training form
(repeatable items) in Chinese and in English."""

from __future__ import annotations

import pytest

from handlers.report.question import opening_count
from models.forms import load_forms, outline
from tests.double import FakeUser, SentMessage
from tests.report.conftest import FORMS, County
from tests.report.test_conversation import start
from tests.report.test_walk import seeded
from texts.i18n import gettext_for

PERIOD = "2026 秋季学期"


def labels(message: SentMessage) -> list[str]:
    """Every button's text, row after row."""
    return [text for row in message.buttons() for text, _data in row]


async def say(user: FakeUser, text: str, expect: str) -> SentMessage:
    await user.send(text)
    return await user.wait_for(expect)


async def press(user: FakeUser, message: SentMessage, button: str, expect: str) -> SentMessage:
    await user.press(message, button)
    return await user.wait_for(expect)


async def test_training_in_chinese_counts_items_and_their_questions(county: County) -> None:
    round_ = await county.open_round("training", period=PERIOD)
    principal = county.user("principal:S001")
    first = await start(county, principal, round_.id, "本学期新入职教师数")
    # The form's own questions: the follow-up of new teachers counts until ruled out.
    assert "📋 教师培训完成情况 · 2026年秋季学期 · 1/2" in (first.plain or "")

    ask = await say(principal, "0", "是否有培训项目需要填报？")
    text = ask.plain or ""
    assert "还有其他" not in text and "已添加" not in text
    assert labels(ask)[:2] == ["有，开始填写", "没有"]

    level = await say(principal, "有", "培训项目 1 · 第 1/6 题")  # typed, as on its button
    text = level.plain or ""
    assert "\n培训级别\n" in text
    # Short labels: buttons only, two a row; the options are not listed again as text.
    assert "1. 国家级" not in text and "请点按钮，或直接输入答案。" in text
    assert [t for t, _d in level.buttons()[0]] == ["国家级", "省级"]

    kind = await press(principal, level, "国家级", "培训项目 1 · 第 2/6 题")
    # Nine kinds, some long: listed once as numbered text, the buttons carry the numbers.
    assert "1. 新课标培训" in (kind.plain or "") and "4. 班主任培训" in (kind.plain or "")
    assert labels(kind)[:4] == ["1", "2", "3", "4"]
    assert not any(t.endswith("…") for t in labels(kind))

    name = await press(principal, kind, "4", "培训项目 1 · 第 3/6 题")
    planned = await press(principal, name, "跳过", "培训项目 1 · 第 4/6 题")

    # Refusals name the question, item included.
    refused = await say(principal, "大约五十", "需要确切的数字")
    assert "❌ 「培训项目 1 · 计划参训人数」需要确切的数字，不能填约数。" in (refused.plain or "")
    refused = await say(principal, "123456789012345678901234", "不能大于")
    assert "❌ 「培训项目 1 · 计划参训人数」不能大于 5,000人。" in (refused.plain or "")
    refused = await say(principal, "很多", "不是数字")
    assert "「培训项目 1 · 计划参训人数」需要一个整数，您输入的不是数字。" in (refused.plain or "")
    del planned

    # Chinese numerals written exactly are numbers.
    completed = await say(principal, "八十五", "培训项目 1 · 第 5/6 题")
    hours = await say(principal, "八十", "培训项目 1 · 第 6/6 题")
    another = await say(principal, "十二", "是否还有其他培训项目需要填报？")
    assert "已添加 1 项。" in (another.plain or "")
    assert labels(another)[:2] == ["是，添加", "没有了"]
    del completed, hours

    second = await press(principal, another, "是，添加", "培训项目 2 · 第 1/6 题")
    # "Back" from the second item's first question: the first item's last one.
    back = await press(principal, second, "上一题", "培训项目 1 · 第 6/6 题")
    assert "当前答案：12学时" in (back.plain or "")


async def test_training_in_english_numbers_long_options(county: County) -> None:
    round_ = await county.open_round("training", period=PERIOD)
    deputy = county.user("deputy:S001")
    await start(county, deputy, round_.id, "New teachers this term")
    ask = await say(deputy, "0", "Is there any training programme to report?")
    assert "another" not in (ask.plain or "")
    level = await press(deputy, ask, "Yes, fill one in", "Training programme 1 · question 1 of 6")
    kind = await press(deputy, level, "National", "Training programme 1 · question 2 of 6")
    text = kind.plain or ""
    # Too long for buttons ("New curriculum standards", "IT application skills"): listed
    # once as numbered text, the buttons carry the numbers.
    assert "1. New curriculum standards" in text
    assert "7. New-teacher induction" in text
    assert labels(kind)[:9] == ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert "Press a button or type its number." in text
    name = await press(deputy, kind, "2", "Training programme 1 · question 3 of 6")
    await deputy.press(name, "Skip")
    await deputy.wait_for("question 4 of 6")
    refused = await say(deputy, "五十来个", "exact figure")
    assert (
        "❌ “Training programme 1 · Planned participants” needs an exact figure, "
        "not an estimate." in (refused.plain or "")
    )
    refused = await say(deputy, "6000", "cannot be more than")
    assert "“Training programme 1 · Planned participants” cannot be more than 5,000." in (
        refused.plain or ""
    )
    await say(deputy, "两千", "question 5 of 6")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh_CN", "共 2 题；培训项目逐项填写，每项 6 题，逐题回答。"),
        (
            "en",
            "2 questions; then one training programme after another, 6 questions each, "
            "one at a time.",
        ),
    ],
)
def test_the_opening_count_is_true_for_repeatable_items(lang: str, expected: str) -> None:
    form = load_forms(FORMS).get("training")
    counted = opening_count(outline(form, {}, {"stage": "primary"}), lang, gettext_for(lang))
    assert counted.startswith(expected)


def test_the_opening_count_leaves_out_questions_ruled_out() -> None:
    form = load_forms(FORMS).get("training")
    counted = outline(form, {("new_teachers", 0): 0}, {"stage": "primary"})
    assert counted.questions == 1 and [n for _g, n in counted.per_item] == [6]


async def test_the_opening_screen_says_how_many_questions(county: County) -> None:
    round_ = await county.open_round("training", period=PERIOD)
    principal = county.user("principal:S001")
    first = await start(county, principal, round_.id, "本学期新入职教师数")
    assert "共 2 题；培训项目逐项填写，每项 6 题" in (first.plain or "")


async def test_many_options_in_english_are_numbered_and_ticked_by_number(county: County) -> None:
    """Fifteen subjects, some too long for half a row: listed once as numbered text; the
    buttons carry the numbers and a tick marks the number pressed."""
    round_id = await seeded(county)
    deputy = county.user("deputy:S001")
    shown = await start(county, deputy, round_id, "Subjects short of teachers")
    text = shown.plain or ""
    assert "1. Chinese\n2. Mathematics\n3. English" in text
    assert labels(shown)[:5] == ["1", "2", "3", "4", "5"]
    assert "Tick the buttons, then press Done; or type numbers like 1,3." in text
    await deputy.press(shown, "3")
    ticked = await deputy.wait_for(
        lambda m: m.message_id == shown.message_id and "✅ 3" in labels(m)
    )
    assert "Chinese" not in str(ticked.buttons())


async def test_few_short_options_in_chinese_are_buttons_only(county: County) -> None:
    round_id = await seeded(county)
    principal = county.user("principal:S001")
    shown = await start(county, principal, round_id, "紧缺学科")
    assert "1. 语文" not in (shown.plain or "")
    assert labels(shown)[:2] == ["语文", "数学"]
    assert "请勾选按钮后点“选好了”。" in (shown.plain or "")
