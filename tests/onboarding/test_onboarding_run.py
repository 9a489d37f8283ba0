"""docs/staff/onboarding.md, step by step, with the real `huibao` processes.

roster file -> `huibao schools import` -> `huibao invites create --all --xlsx` (bot name
from getMe, since a token is set) -> `huibao run` -> principals click their links -> staff
check `/people`.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

from openpyxl import load_workbook

from tests.conftest import settings_env
from tests.double import BotApiDouble
from tests.e2e.proc import BotProcess, child_env, huibao_command
from tests.onboarding.helpers import write_xlsx
from tests.onboarding.invitation_sheet import read_invitation_sheet

TOKEN = "7000001:AAbureau-test-token"


async def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    # In a thread: the double lives on this event loop and must answer the CLI's getMe.
    done = await asyncio.to_thread(
        subprocess.run,
        [*huibao_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_from_roster_file_to_connected_principals(db_url: str, tmp_path: Path) -> None:
    roster = write_xlsx(
        tmp_path / "学校名册.xlsx",
        [
            ["学校代码", "学校名称", "乡镇", "学段"],
            ["4301000001", "青山县第一中学", "城关镇", "高中"],
            ["4301000002", "城关镇中心小学", "城关镇", "小学"],
            ["4301000003", "白沙乡中心小学", "白沙乡", "小学"],
        ],
    )
    async with BotApiDouble(token=TOKEN, bot_username="qingshan_edu_bot") as tg:
        env = child_env(settings_env(db_url, tg, HUIBAO_BUREAU__ADMINS="[9001]"))
        assert "added 3" in await cli(env, tmp_path, "schools", "import", str(roster))
        out = await cli(env, tmp_path, "invites", "create", "--all", "--xlsx", "invitations.xlsx")
        links = dict(re.findall(r"^(\d{10}) .*?(https://t\.me/qingshan_edu_bot\?start=\S+)$",
                                out, re.MULTILINE))
        assert set(links) == {"4301000001", "4301000002", "4301000003"}
        printed = read_invitation_sheet(tmp_path / "invitations.xlsx")
        assert {b.fields["学校代码"] for b in printed.blocks} == set(links)

        async with BotProcess(env, tmp_path) as bot:
            await bot.wait_ready()
            for n, code in enumerate(["4301000001", "4301000002"]):
                principal = tg.user(1100 + n, f"校长{n}")
                payload = links[code].rsplit("=", 1)[1]
                await principal.send(f"/start {payload}")
                await principal.press(await principal.wait_for("身份加入"), "确认")
                await principal.wait_for("欢迎")
            admin = tg.user(9001, "局管理员")
            await admin.send("/people")
            overview = await admin.wait_for("已接入校长")
            assert "已接入校长：2 / 3" in overview.plain
            assert "白沙乡：1" in overview.plain and "城关镇" not in overview.plain
            # In a thread, so the double can answer the last long poll while the bot stops.
            assert await asyncio.to_thread(bot.stop) == 0

        export = tmp_path / "roster-out.xlsx"
        await cli(env, tmp_path, "schools", "export", str(export))
        rows = list(load_workbook(export).active.iter_rows(values_only=True))  # type: ignore[union-attr]
        principals = {row[0]: row[5] for row in rows[1:]}
        assert principals == {"4301000001": "校长0", "4301000002": "校长1", "4301000003": None}
