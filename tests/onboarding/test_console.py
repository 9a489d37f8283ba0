"""`huibao demo-data` and `huibao console`, driven as a newcomer would from the README
and docs/try-it.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bot.console_transport import FileSaver
from tests.conftest import settings_env
from tests.e2e.proc import child_env, huibao_command


def huibao(db_url: str, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = child_env(settings_env(db_url))
    env.pop("HUIBAO_TELEGRAM__TOKEN", None)
    return subprocess.run(
        [*huibao_command(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def demo(db_url: str, tmp_path: Path) -> list[str]:
    done = huibao(db_url, tmp_path, "demo-data")
    assert done.returncode == 0, done.stderr
    assert "29 schools in 4 districts" in done.stdout
    return re.findall(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b", done.stdout)


def test_an_admin_browses_the_demo_county(db_url: str, tmp_path: Path, demo: list[str]) -> None:
    done = huibao(
        db_url, tmp_path, "console", "--as", "admin", stdin="/menu\n/schools\n3\n/people\n"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "you are an administrator" in out
    # The menu's buttons are numbered; other capabilities' buttons may come first.
    assert re.search(r"\[\d+\] 学校  \[\d+\] 人员", out)
    assert "[3] 城关学区 · 0/8" in out  # /schools lists the districts
    assert "示范县实验小学" in out  # 3 pressed 城关学区
    assert "尚无校长接入的学校（按学区）" in out
    assert "[your commands: /start /menu /help /language" in out and "/schools" in out
    assert "Traceback" not in done.stderr


def test_a_newcomer_types_a_code_and_becomes_principal(
    db_url: str, tmp_path: Path, demo: list[str]
) -> None:
    assert len(demo) == 3
    script = f"hello\n{demo[0].lower()}\n1\n/menu\n"
    done = huibao(db_url, tmp_path, "console", "--language", "en", stdin=script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "type the invitation code here" in out  # "hello" is not a code
    assert "You are joining as principal of 示范县第一中学, 城关学区." in out
    assert "[1] Confirm  [2] Cancel" in out
    assert "Welcome! You are now principal of 示范县第一中学" in out
    assert "You are the principal of 示范县第一中学, 城关学区." in out
    # The code is used up: trying it again is refused.
    again = huibao(db_url, tmp_path, "console", "--language", "en", stdin=f"{demo[0]}\n")
    assert "already been used" in again.stdout


def test_a_principal_sees_only_their_school_and_bad_identities_are_refused(
    db_url: str, tmp_path: Path, demo: list[str]
) -> None:
    done = huibao(
        db_url, tmp_path, "console", "--as", "principal:3611230016", stdin="/menu\n/schools\n"
    )
    assert done.returncode == 0, done.stderr
    assert "西山初级中学" in done.stdout and "示范县第一中学" not in done.stdout
    assert "仅供教育局工作人员" in done.stdout
    bad = huibao(db_url, tmp_path, "console", "--as", "principal:NOPE")
    assert bad.returncode == 2 and "no school with code 'NOPE'" in bad.stderr
    bad = huibao(db_url, tmp_path, "console", "--as", "mayor")
    assert bad.returncode == 2 and "--as 'mayor'" in bad.stderr


def test_a_report_goes_on_in_a_later_console_run_started_anywhere(
    db_url: str, tmp_path: Path, demo: list[str]
) -> None:
    """docs/try-it.md's "Fill in a report", from a folder without forms/: the bundled forms
    are found, and a second console run takes its answers as new ones (its message ids
    are above the first run's, as Telegram's are)."""
    assert not (tmp_path / "forms").exists()
    checked = huibao(db_url, tmp_path, "forms", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "staffing v3" in checked.stdout and "all good" in checked.stdout
    opened = huibao(
        db_url, tmp_path, "rounds", "open", "--form", "staffing", "--period", "2026",
        "--deadline", "12-31 17:00", "--no-announce",
    )
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert "round 1 opened: staffing v3" in opened.stdout

    first = huibao(
        db_url, tmp_path, "console", "--as", "principal:3611230016", stdin="/report\n1\n62\n"
    )
    assert first.returncode == 0, first.stderr
    assert "📋 编制与师资配备 · 2026 · 2/17" in first.stdout

    second = huibao(
        db_url, tmp_path, "console", "--as", "principal:3611230016", stdin="/report\n1\n57\n"
    )
    assert second.returncode == 0, second.stderr
    out = second.stdout
    assert "欢迎回来" in out
    # 57 answered question 2: the bot moves on instead of asking it again.
    assert "📋 编制与师资配备 · 2026 · 3/17" in out and "专任教师数" in out
    assert out.count("在编教职工数（人）") == 1


def test_the_files_the_bot_sends_are_saved_and_their_path_printed(
    db_url: str, tmp_path: Path, demo: list[str]
) -> None:
    """Issue 11, item 6: a person trying the console can open the QR code the bot sent."""
    done = huibao(
        db_url, tmp_path, "console", "--as", "staff", "--language", "en",
        "--files", "my-files", stdin="/invite 3611230002\n1\n2\n",  # invite, confirm
    )
    assert done.returncode == 0, done.stderr
    sent = re.search(r"bot> \[file\] (invitation-\w+\.png) → my-files/(invitation-\w+\.png)",
                     done.stdout)
    assert sent is not None, done.stdout
    assert sent.group(1) == sent.group(2)
    assert (tmp_path / "my-files" / sent.group(2)).read_bytes()[:4] == b"\x89PNG"
    # Without --files the folder is ./console-files/.
    again = huibao(
        db_url, tmp_path, "console", "--as", "staff",
        stdin="/invite 3611230003\n1\n2\n/invite 3611230003\n2\n",  # principal, deputy
    )
    saved = sorted(p.name for p in (tmp_path / "console-files").iterdir())
    assert len(saved) == 2, again.stdout
    assert all(f"→ console-files/{name}" in again.stdout for name in saved)


def test_a_name_sent_twice_gets_a_number_and_a_nameless_chart_an_extension(
    tmp_path: Path,
) -> None:
    saver = FileSaver(tmp_path / "out", shown_from=tmp_path)
    assert saver.save("汇总.xlsx", b"PK\x03\x04 first") == "out/汇总.xlsx"
    assert saver.save("汇总.xlsx", b"PK\x03\x04 second") == "out/汇总 (2).xlsx"
    assert saver.save("photo", b"\x89PNG chart") == "out/photo.png"
    # The same file sent again (a summary to each staff member) is kept once.
    assert saver.save("汇总.xlsx", b"PK\x03\x04 second") == "out/汇总 (2).xlsx"
    assert len(saver.saved) == 3
    assert (tmp_path / "out" / "汇总.xlsx").read_bytes() == b"PK\x03\x04 first"
