"""`huibao schools import / export / close`: from a bureau's spreadsheet to the roster."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main
from bot.demo import synthetic_roster
from models.roster.people import set_role
from models.roster.roster_file import parse_stage, read_roster
from models.roster.tables import AuditLog, District, Person, Role, School
from tests.onboarding.helpers import look, school_count, schools, write_csv, write_xlsx

CHINESE_HEADER = ["序号", "学校代码", "学校名称", "乡镇", "学段"]


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)  # no stray config.toml
    return db_url


def test_chinese_headers_numeric_codes_and_stage_words(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "名册.xlsx",
        [
            ["某县2026年学校名册"],  # a title row above the header is common and skipped
            [],
            CHINESE_HEADER,
            [1, 3611230001, "示范县第一中学", "城关学区", "高中"],
            [2, "3611230002", "东河镇中心小学", "东河镇", "小学"],
            [3, 3611230003.0, "西山九年一贯制学校", "西山乡", "九年一贯制"],
            [4, "3611230004", "南湖完全中学", "南湖镇", "完全中学"],
            [5, "3611230005", "示范县职业中专", "城关学区", "中职"],
            [6, "3611230006", "龙潭教学点", "西山乡", "教学点"],
            [7, "3611230007", "实验幼儿园", "城关学区", "幼儿园"],
            [8, "3611230008", "东河中学", "东河镇", "初级中学"],
        ],
    )
    parsed = read_roster(path)
    assert parsed.problems == []
    assert [(r.code, r.stage.value) for r in parsed.rows] == [
        ("3611230001", "senior"),
        ("3611230002", "primary"),
        ("3611230003", "nine_year"),
        ("3611230004", "complete_secondary"),
        ("3611230005", "vocational"),
        ("3611230006", "teaching_point"),
        ("3611230007", "kindergarten"),
        ("3611230008", "junior"),
    ]
    assert parsed.rows[0].line == 4  # spreadsheet row numbers, as the bureau sees them


@pytest.mark.parametrize("word", ["nine-year", "Nine Year", "nine_year", "九年一贯制学校"])
def test_stage_spellings(word: str) -> None:
    assert parse_stage(word) is not None and parse_stage(word).value == "nine_year"  # type: ignore[union-attr]


def test_gbk_csv_with_english_headers(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "roster.csv",
        [
            ["code", "name", "district", "stage"],
            ["A001", "城关中心小学", "城关学区", "primary"],
            ["A002", "东河中学", "东河镇", "junior"],
        ],
        encoding="gbk",
    )
    assert main(["schools", "import", str(path)]) == 0
    assert "added 2, updated 0, unchanged 0" in capsys.readouterr().out
    assert look(cli_db, schools)["A001"] == ("城关中心小学", "primary", True)


def test_bad_rows_are_all_named_and_nothing_changes(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_xlsx(
        tmp_path / "roster.xlsx",
        [
            CHINESE_HEADER,
            [1, "3611230001", "示范县第一中学", "城关学区", "高中"],
            [2, "", "无代码小学", "城关学区", "小学"],  # line 3: missing code
            [3, "3611230003", "东河中学", "东河镇", "初中"],
            [4, "3611230004", "南湖某校", "南湖镇", "大学"],  # line 5: unknown stage
            [5, "3611230005", "西山乡中心小学", "西山乡", "小学"],
            [6, "3611230001", "重复代码学校", "西山乡", "小学"],  # line 7: duplicate code
        ],
    )
    assert main(["schools", "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "3 bad rows, nothing was changed" in err
    assert "line 3: missing code" in err
    assert "line 5: unknown stage '大学'" in err
    assert "line 7: duplicate code 3611230001 (also on line 2)" in err
    assert look(cli_db, school_count) == 0


def test_a_missing_column_is_one_clear_line(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [["学校代码", "学校名称", "学区"], ["1", "某校", "某学区"]]
    path = write_csv(tmp_path / "r.csv", rows)
    assert main(["schools", "import", str(path)]) == 2
    assert "no column for stage (学段)" in capsys.readouterr().err


def test_two_thousand_schools_import_then_all_unchanged(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = synthetic_roster(2000)
    path = write_xlsx(tmp_path / "全县.xlsx", [["学校代码", "学校名称", "学区", "学段"], *rows])
    assert main(["schools", "import", str(path)]) == 0
    first = capsys.readouterr().out
    assert "2000 schools read" in first and "added 2000, updated 0, unchanged 0" in first
    assert main(["schools", "import", str(path)]) == 0
    assert "added 0, updated 0, unchanged 2000" in capsys.readouterr().out
    assert look(cli_db, school_count) == 2000

    async def districts(session: AsyncSession) -> int:
        return len((await session.execute(select(District.id))).all())

    assert look(cli_db, districts) == len({r[2] for r in rows})


def test_dry_run_shows_changes_and_changes_nothing(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    header = ["学校代码", "学校名称", "学区", "学段"]
    first = [["S1", "城关小学", "城关学区", "小学"], ["S2", "东河中学", "东河镇", "初中"]]
    assert main(["schools", "import", str(write_csv(tmp_path / "a.csv", [header, *first]))]) == 0
    capsys.readouterr()
    second = [
        ["S1", "城关中心小学", "城关学区", "小学"],  # renamed
        ["S2", "东河中学", "东河镇", "九年一贯制"],  # stage changed
        ["S3", "新建小学", "南湖镇", "小学"],  # new, in a new district
    ]
    path = write_csv(tmp_path / "b.csv", [header, *second])
    assert main(["schools", "import", "--dry-run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing was changed" in out
    assert "added 1, updated 2, unchanged 0" in out
    assert "line 2: update S1 城关中心小学 (name: 城关小学 -> 城关中心小学)" in out
    assert "line 3: update S2 东河中学 (stage: junior -> nine_year)" in out
    assert "line 4: add S3 新建小学" in out
    assert "new districts would be: 南湖镇" in out
    assert look(cli_db, schools) == {
        "S1": ("城关小学", "primary", True),
        "S2": ("东河中学", "junior", True),
    }
    assert main(["schools", "import", str(path)]) == 0
    assert "added 1, updated 2, unchanged 0" in capsys.readouterr().out
    assert look(cli_db, schools)["S2"] == ("东河中学", "nine_year", True)

    async def audit(session: AsyncSession) -> list[str]:
        return list((await session.execute(select(AuditLog.action))).scalars())

    assert audit_imports(look(cli_db, audit)) == 2


def audit_imports(actions: list[str]) -> int:
    return actions.count("roster.import")


def test_close_keeps_history_and_export_shows_people(
    tmp_path: Path, cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    header = ["code", "name", "district", "stage"]
    rows = [
        ["S1", "城关小学", "城关学区", "primary"],
        ["S2", "西山教学点", "西山乡", "teaching point"],
    ]
    assert main(["schools", "import", str(write_csv(tmp_path / "a.csv", [header, *rows]))]) == 0

    async def bind(session: AsyncSession) -> None:
        school = (await session.execute(select(School).where(School.code == "S1"))).scalar_one()
        for telegram_id, name, username, role in [
            (11, "王校长", "wang", Role.PRINCIPAL),
            (12, "李信息员", None, Role.DEPUTY),
        ]:
            person = Person(telegram_id=telegram_id, name=name, username=username)
            session.add(person)
            await session.flush()
            await set_role(session, person, role, school_id=school.id)

    look(cli_db, bind)
    assert main(["schools", "close", "S2"]) == 0
    assert "closed: S2 西山教学点" in capsys.readouterr().out
    assert look(cli_db, schools)["S2"] == ("西山教学点", "teaching_point", False)

    export = tmp_path / "roster.xlsx"
    assert main(["schools", "export", str(export)]) == 0
    sheet = load_workbook(export).active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0][:5] == ["学校代码", "学校名称", "学区", "学段", "在用"]
    by_code = {row[0]: row for row in values[1:]}
    assert by_code["S1"][5] == "王校长 (@wang)" and by_code["S1"][6] == "李信息员"
    assert by_code["S2"][3:5] == ["教学点", "否"]

    # The export reads back in as it is: nothing changes, the closed school stays closed.
    capsys.readouterr()
    assert main(["schools", "import", str(export)]) == 0
    assert "added 0, updated 0, unchanged 2" in capsys.readouterr().out
    assert main(["schools", "reopen", "S2"]) == 0
    assert look(cli_db, schools)["S2"][2] is True
    assert main(["schools", "close", "NOPE"]) == 2
