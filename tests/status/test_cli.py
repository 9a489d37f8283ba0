"""huibao export: the workbook and the DHIS2 CSV from the command line."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import openpyxl
import pytest

from bot.cli import main
from models.db import create_engine, create_sessionmaker
from tests.status.test_export import _round


def _seed(db_url: str) -> dict[str, int]:
    async def go() -> dict[str, int]:
        engine = create_engine(db_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await _round(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_export_workbook_and_dhis2(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(db_url)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "round.xlsx"
    assert (
        main(["export", "--round", str(ids["round"]), "--out", str(out), "--language", "en"]) == 0
    )
    assert "6 schools" in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "Summary"
    # Without --out: a file named after the form and period, in the current folder.
    assert main(["export", "--round", str(ids["round"])]) == 0
    [made] = [p for p in tmp_path.glob("*.xlsx") if p != out]
    assert made.name.startswith("编制与师资配备-2026")
    assert not list(tmp_path.glob("*.part"))

    csv_out = tmp_path / "dhis2.csv"
    args = ["export", "--round", str(ids["round"]), "--format", "dhis2", "--out", str(csv_out)]
    assert main(args) == 0
    rows = list(csv.reader(csv_out.open(encoding="utf-8")))
    assert rows[0][0] == "dataelement" and {r[1] for r in rows[1:]} == {"2026"}
    assert main([*args, "--period", "2026S2"]) == 0
    rows = list(csv.reader(csv_out.open(encoding="utf-8")))
    assert {r[1] for r in rows[1:]} == {"2026S2"}


def test_export_errors(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--round", "42"]) == 2
    assert "there is no round 42" in capsys.readouterr().err


def test_export_takes_a_districts_name_and_draws_the_charts(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(db_url)
    monkeypatch.setenv("HUIBAO_DATABASE__URL", db_url)
    monkeypatch.chdir(tmp_path)
    round_ = str(ids["round"])
    assert main(["export", "--round", round_, "--district", "西城学区", "--charts", "图表"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "wrote 编制与师资配备-2026-西城学区.xlsx (3 schools)"
    assert out[1:] == ["wrote 图表/编制与师资配备-2026-西城学区-chart-1.png"] + (
        ["wrote 图表/编制与师资配备-2026-西城学区-chart-2.png"] if len(out) == 3 else []
    )
    assert (tmp_path / "图表" / "编制与师资配备-2026-西城学区-chart-1.png").read_bytes()[:4] == (
        b"\x89PNG"
    )
    book = openpyxl.load_workbook(tmp_path / "编制与师资配备-2026-西城学区.xlsx")
    names = {row[1] for row in book["明细"].iter_rows(min_row=5, values_only=True)}
    assert names == {"第二中学", "光明小学", "教学点"}

    # A district id is no district's name: the names there are, in reading order.
    assert main(["export", "--round", round_, "--district", "2"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "no district named '2' (districts: 东城学区, 西城学区)"
    )
