"""Issue 11 item 10: what a principal sees speaks the bureau's words.

The staffing review shows either 空编数 or 超编数, the legal 学历达标率 apart from the
higher-tier rate under the name the plan gives it for the school's stage, and 公费师范生;
the training form asks levels (国家级 … 校级) and kinds as the plans name them, and still
takes 国培 typed."""

from __future__ import annotations

from sqlalchemy import select

from models.base import utcnow
from models.forms import Answers, add_item
from models.rounds import Round, Submission
from models.rounds.answers import WORKING, load_answers, save_answers
from models.rounds.submissions import get_or_create_submission
from tests.double import FakeUser, SentMessage
from tests.report.conftest import County
from tests.report.roster import real_forms
from tests.report.test_round_service import GOOD


async def prefilled(county: County, school: str, answers: Answers, code: str = "staffing") -> Round:
    """A round of the form's newest version whose school has these answers saved."""
    round_ = await county.open_round(code)
    form = real_forms().get(code)
    async with county.sessionmaker() as session, session.begin():
        sub = await get_or_create_submission(
            session, round_, county.roster.schools[school].id, now=utcnow()
        )
        await save_answers(session, sub.id, form, answers, by=None, now=utcnow())
    return round_


async def opened(user: FakeUser, round_id: int, listing: str, expect: str) -> SentMessage:
    await user.send("/report")
    await user.press(await user.wait_for(listing), f"rp:o:{round_id}")
    return await user.wait_for(expect)


def seen(message: SentMessage) -> str:
    """The text and the buttons' labels: a choice may be offered either way."""
    return (message.plain or "") + str(message.buttons())


async def test_a_primary_school_sees_vacancies_and_both_degree_rates_in_chinese(
    county: County,
) -> None:
    # 60 posts, 57 on payroll; 52 teachers: 2 postgraduate, 30 bachelor, 18 college, 2
    # below college, of whom 1 without even a secondary normal diploma.
    answers = dict(GOOD) | {("degree_below_secondary", 0): 1}
    round_ = await prefilled(county, "S001", answers)
    review = await opened(county.user("principal:S001"), round_.id, "贵校的报表", "请核对答案")
    text = review.plain or ""
    assert "其中：公费师范生：0人" in text and "免费师范生" not in text
    assert "空编数：3人" in text and "超编" not in text and "-3" not in text
    assert "学历达标率：98.1%" in text  # 51 of 52 中师 and above
    assert "学历达标率目标：100%" in text
    assert "小学教师专科及以上学历比例：96.2%" in text  # 50 of 52
    assert "高一层次学历比例目标：68%" in text
    assert "初中教师本科及以上学历比例" not in text and "学历达标教师数：51人" in text
    assert "学历达标率 98.1% 低于本学段 100% 的目标" in text
    # The substitutes (4 of 52) are no concern.
    assert "代课教师（" not in text


async def test_an_over_staffed_primary_school_sees_only_the_over_staffing_in_english(
    county: County,
) -> None:
    answers = dict(GOOD) | {("on_payroll", 0): 63, ("degree_below_secondary", 0): 0}
    round_ = await prefilled(county, "S001", answers)
    deputy = county.user("deputy:S001")  # speaks English
    review = await opened(deputy, round_.id, "Your school's reports", "please check your answers")
    text = review.plain or ""
    assert "of whom: publicly funded normal-university graduates: 0" in text
    assert "Staff over the authorized posts: 3" in text and "Vacant posts" not in text
    assert "Degree compliance rate: 100.0%" in text
    assert "Degree compliance target: 100%" in text
    assert "Primary teachers with a college degree or above: 96.2%" in text
    assert "Higher-tier degree target: 68%" in text
    assert "below the target" not in text


async def test_a_junior_school_sees_its_own_rates_and_no_warning_for_the_higher_tier(
    county: County,
) -> None:
    # The same 52 teachers in a junior school: 50 of 52 are 专科 and above (target 95 %),
    # 32 of 52 本科 and above (target 35 %, met; had it not been, still no warning).
    round_ = await prefilled(county, "S002", dict(GOOD))
    review = await opened(county.user("principal:S002"), round_.id, "贵校的报表", "请核对答案")
    text = review.plain or ""
    assert "学历达标率：96.2%" in text and "学历达标率目标：95%" in text
    assert "初中教师本科及以上学历比例：61.5%" in text and "高一层次学历比例目标：35%" in text
    assert "小学教师专科及以上学历比例" not in text
    assert "未达到中师" not in text  # the split of 专科以下 is asked of primary schools only
    assert "低于本学段" not in text


async def test_a_substitute_at_a_small_school_is_no_warning(county: County) -> None:
    small = {
        ("authorized_posts", 0): 4,
        ("on_payroll", 0): 3,
        ("full_time_teachers", 0): 3,
        ("degree_postgraduate", 0): 0,
        ("degree_bachelor", 0): 1,
        ("degree_college", 0): 2,
        ("degree_below_college", 0): 0,
        ("new_hires_total", 0): 0,
        ("key_teachers", 0): 0,
        ("subject_leaders", 0): 0,
        ("famous_teachers", 0): 0,
        ("substitute_teachers", 0): 1,  # a third of the teachers, and only one
        ("rural_exchange", 0): 0,
        ("shortage_subjects", 0): [],
    }
    round_ = await prefilled(county, "S001", small)
    review = await opened(county.user("principal:S001"), round_.id, "贵校的报表", "请核对答案")
    text = review.plain or ""
    assert "空编数：1人" in text
    assert "20%" not in text and "✅ 提交" in str(review.buttons())
    assert "代课教师数：1人" in text


async def training_item(
    county: County, user: FakeUser, listing: str, expect: str
) -> tuple[Round, SentMessage]:
    """A training round whose school has added its first programme: its level is asked."""
    form = real_forms().get("training")
    answers: Answers = {("new_teachers", 0): 0}
    answers |= add_item(form, answers, "programmes")
    round_ = await prefilled(county, "S001", answers, "training")
    return round_, await opened(user, round_.id, listing, expect)


async def test_training_asks_levels_and_kinds_as_bureaus_name_them(county: County) -> None:
    user = county.user("principal:S001")
    round_, level = await training_item(county, user, "贵校的报表", "培训级别")
    shown = seen(level)
    for name in ("国家级", "省级", "市级", "县级", "校级"):
        assert name in shown
    # 国培 and 省培 are programmes, not levels: named in the hint, never offered.
    offered = [label for row in level.buttons() for label, _ in row]
    assert not {"国培", "省培", "校本研修"} & set(offered)
    assert "1. 国培" not in (level.plain or "") and "国培计划项目选“国家级”" in shown
    # 国培 is a programme at the national level: typed, it picks 国家级.
    await user.send("国培")
    kind = await user.wait_for("培训类别")
    shown = seen(kind)
    for name in (
        "新课标培训",
        "师德师风专题培训",
        "骨干教师培训",
        "班主任培训",
        "信息技术应用能力提升培训",
    ):
        assert name in shown
    await user.send("师德专题")  # version 1's name is still understood
    await user.wait_for("项目名称")
    async with county.sessionmaker() as session:
        sub_id = (await session.execute(select(Submission.id))).scalar_one()
        saved = await load_answers(session, sub_id, WORKING, real_forms().get("training"))
    assert saved[("level", 0)] == "national" and saved[("kind", 0)] == "ethics"
    del round_


async def test_training_levels_in_english(county: County) -> None:
    deputy = county.user("deputy:S001")
    _, level = await training_item(county, deputy, "Your school's reports", "Level")
    shown = seen(level)
    for name in ("National", "Provincial", "Municipal", "County", "School"):
        assert name in shown
    await deputy.send("省培")
    kind = await deputy.wait_for("Kind")
    shown = seen(kind)
    for name in ("New curriculum standards", "Teacher ethics", "Key teachers", "Head teachers"):
        assert name in shown
