"""`huibao schools import` with the phone columns: 学校电话 and 校长电话 (or phone and
principal_phone) fill the roster's numbers, normalised; a bad number is named by line and
changes nothing; a file without the columns, or a blank cell, keeps the numbers stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from models.roster.tables import School
from tests.onboarding.helpers import look, write_csv, write_xlsx


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)  # no stray config.toml
    return db_url


async def _phones(session: AsyncSession) -> dict[str, tuple[str | None, str | None]]:
    rows = await session.execute(select(School.code, School.phone, School.principal_phone))
    return {code: (phone, principal) for code, phone, principal in rows.all()}


def test_chinese_phone_columns_fill_the_roster(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_xlsx(
        tmp_path / "名册.xlsx",
        [
            ["学校代码", "学校名称", "学区", "学段", "学校电话", "校长电话"],
            ["3611230001", "示范县第一中学", "城关学区", "高中", "0797 8123456", "138 1234 5678"],
            ["3611230002", "东河镇中心小学", "东河镇", "小学", "", "+86 139-0000-1111"],
        ],
    )
    assert main(["schools", "import", str(path)]) == 0
    assert "added 2" in capsys.readouterr().out
    assert look(cli_db, _phones) == {
        "3611230001": ("0797-8123456", "13812345678"),
        "3611230002": (None, "13900001111"),
    }
    # Again with a new number for one school, a blank principal's cell for the other, and
    # the columns under their English names: the change is reported, the blank keeps.
    path = write_csv(
        tmp_path / "roster.csv",
        [
            ["code", "name", "district", "stage", "phone", "principal_phone"],
            ["3611230001", "示范县第一中学", "城关学区", "senior", "0797-8123456", "13700000000"],
            ["3611230002", "东河镇中心小学", "东河镇", "primary", "0797-8765432", ""],
        ],
    )
    assert main(["schools", "import", "--dry-run", str(path)]) == 0
    assert "principal_phone: 13812345678 -> 13700000000" in capsys.readouterr().out
    assert main(["schools", "import", str(path)]) == 0
    assert "added 0, updated 2, unchanged 0" in capsys.readouterr().out
    assert look(cli_db, _phones) == {
        "3611230001": ("0797-8123456", "13700000000"),
        "3611230002": ("0797-8765432", "13900001111"),
    }
    # A file without the phone columns leaves every number as it is.
    path = write_csv(
        tmp_path / "plain.csv",
        [
            ["code", "name", "district", "stage"],
            ["3611230001", "示范县第一中学", "城关学区", "senior"],
            ["3611230002", "东河镇中心小学", "东河镇", "primary"],
        ],
    )
    assert main(["schools", "import", str(path)]) == 0
    assert "unchanged 2" in capsys.readouterr().out
    assert look(cli_db, _phones)["3611230002"] == ("0797-8765432", "13900001111")


def test_a_bad_number_is_named_and_nothing_changes(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "roster.csv",
        [
            ["学校代码", "学校名称", "学区", "学段", "学校电话", "校长电话"],
            ["A001", "城关中心小学", "城关学区", "小学", "8123456", "13812345678"],
            ["A002", "东河中学", "东河镇", "初中", "0797-8123456", "1234"],
        ],
    )
    assert main(["schools", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 2: cannot read phone '8123456'" in err
    assert "line 3: cannot read principal phone '1234'" in err
    assert "0731-84123456" in err  # says what a good number looks like
    assert look(cli_db, _phones) == {}


def test_the_exported_roster_gives_its_numbers_back(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "roster.csv",
        [
            ["学校代码", "学校名称", "学区", "学段", "学校电话", "校长电话"],
            ["A001", "城关中心小学", "城关学区", "小学", "0797-8123456", "13812345678"],
        ],
    )
    assert main(["schools", "import", str(path)]) == 0
    exported = tmp_path / "export.xlsx"
    assert main(["schools", "export", str(exported)]) == 0
    capsys.readouterr()
    assert main(["schools", "import", str(exported)]) == 0
    assert "added 0, updated 0, unchanged 1" in capsys.readouterr().out
    assert look(cli_db, _phones) == {"A001": ("0797-8123456", "13812345678")}
