"""Done when #2: the bot killed with SIGKILL in the middle of a form and restarted; the
principal's next message continues at the same question with every earlier answer kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.rounds import WORKING, Submission
from models.rounds.answers import load_answers
from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env
from tests.report.conftest import TOKEN, County
from tests.report.roster import FORMS, make_roster, staffing


async def test_sigkill_mid_form_then_restart_continues_at_the_same_question(
    db_url: str, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessionmaker() as session, session.begin():
        roster = await make_roster(session)
    async with BotApiDouble(token=TOKEN) as tg:
        county = County(None, tg, sessionmaker, roster, FORMS)  # type: ignore[arg-type]
        round_ = await county.open_round()
        env = child_env(settings_env(db_url, tg, HUIBAO_FORMS__DIRECTORY=str(FORMS)))
        user = county.user("principal:S001")
        with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            await user.send("/report")
            await user.press(await user.wait_for("贵校的报表"), f"rp:o:{round_.id}")
            await user.wait_for("核定编制数")
            await user.send("60")
            await user.wait_for("在编教职工数")
            await user.send("57")
            await user.wait_for("专任教师数")
            await user.send("52")
            await user.wait_for("研究生学历")
            bot.kill()
        with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            await user.send("2")
            question = await user.wait_for("本科学历")
            assert "5/18" in (question.plain or "")
            await user.send("30")
            await user.wait_for("其中：专科学历")
        async with sessionmaker() as session:
            sub = (await session.execute(select(Submission))).scalar_one()
            answers = await load_answers(session, sub.id, WORKING, staffing())
    assert answers == {
        ("authorized_posts", 0): 60,
        ("on_payroll", 0): 57,
        ("full_time_teachers", 0): 52,
        ("degree_postgraduate", 0): 2,
        ("degree_bachelor", 0): 30,
    }
