"""A demo county for trying Huibao: four districts, 29 schools of every stage, one staff member."""

from __future__ import annotations

from pathlib import Path

from models.roster.roster_file import RosterRow, read_roster
from models.roster.tables import Stage

DEMO_BUREAU = "示范县教育局"
# Fake Telegram ids far above any real user's, so demo people never meet real ones.
DEMO_STAFF_TELEGRAM_ID = 9_000_000_000_100
DEMO_STAFF_NAME = "张晓燕（人事科）"

# The demo county is a roster file like the ones bureaus upload (学校代码, 学校名称, 学区,
# 学段), read by the same reader, so the demo also shows what such a file looks like. The
# codes are 10 digits in the style of the national school identification code.
DEMO_ROSTER = Path(__file__).with_name("demo_roster.csv")


def demo_rows() -> list[RosterRow]:
    parsed = read_roster(DEMO_ROSTER)
    assert not parsed.problems, parsed.problems
    return parsed.rows


_TOWNS = "东河西山南湖北岭城关青石白沙黄土桃源柳溪龙潭梅岭竹林石门新华莲花杨柳清水高坪"
_STAGE_SUFFIX = {
    Stage.PRIMARY: ("中心小学", "小学", "完全小学"),
    Stage.JUNIOR: ("初级中学", "中学"),
    Stage.SENIOR: ("高级中学",),
    Stage.NINE_YEAR: ("九年一贯制学校",),
    Stage.COMPLETE_SECONDARY: ("完全中学",),
    Stage.VOCATIONAL: ("职业中学",),
    Stage.KINDERGARTEN: ("中心幼儿园", "幼儿园"),
    Stage.TEACHING_POINT: ("教学点",),
}
# Roughly how a county's schools divide among the stages.
_STAGE_MIX = (
    [Stage.PRIMARY] * 40 + [Stage.TEACHING_POINT] * 20 + [Stage.KINDERGARTEN] * 20
    + [Stage.JUNIOR] * 10 + [Stage.NINE_YEAR] * 5 + [Stage.SENIOR] * 2
    + [Stage.COMPLETE_SECONDARY] + [Stage.VOCATIONAL] * 2
)
STAGE_ZH = {
    Stage.KINDERGARTEN: "幼儿园", Stage.PRIMARY: "小学", Stage.JUNIOR: "初中",
    Stage.SENIOR: "高中", Stage.NINE_YEAR: "九年一贯制", Stage.COMPLETE_SECONDARY: "完全中学",
    Stage.VOCATIONAL: "中职", Stage.TEACHING_POINT: "教学点",
}


def synthetic_roster(
    count: int, *, districts: int | None = None
) -> list[tuple[str, str, str, str]]:
    """(学校代码, 学校名称, 学区, 学段) rows for a large made-up province, for benchmarks
    and tests: deterministic, unique codes and names, Chinese stage words."""
    districts = districts or max(4, count // 25)
    towns = [a + b for a in _TOWNS[::2] for b in _TOWNS[1::2]]
    rows = []
    for n in range(count):
        index = n % districts
        town = towns[index % len(towns)]
        district = f"{town}{'镇' if index % 3 else '乡'}{index // len(towns) or ''}"
        stage = _STAGE_MIX[n % len(_STAGE_MIX)]
        suffix = _STAGE_SUFFIX[stage][n % len(_STAGE_SUFFIX[stage])]
        name = f"{district}第{n // districts + 1}{suffix}"
        rows.append((f"36{n:08d}", name, district, STAGE_ZH[stage]))
    return rows
