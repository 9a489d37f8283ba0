"""The words of a roster file: the header spellings bureaus use for each column, and
the stage and yes/no words of its cells (models/roster/roster_file.py reads the file)."""

from __future__ import annotations

import re

from models.roster.tables import Stage

# Header spellings seen in bureau spreadsheets, compared after header_key().
HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("code", "schoolcode", "school_code", "学校代码", "学校编码", "代码", "编码",
             "学校标识码", "学校编号", "编号"),
    "name": ("name", "schoolname", "school_name", "学校名称", "学校", "名称", "校名"),
    "district": ("district", "学区", "乡镇", "学区/乡镇", "乡镇/学区", "学区(乡镇)",
                 "乡镇(学区)", "所属学区", "所属乡镇", "片区", "学区乡镇", "乡镇学区"),
    "stage": ("stage", "学段", "办学类型", "学校类型", "类型"),
    "active": ("active", "在用", "是否在用", "状态", "办学状态"),
    "phone": ("phone", "school_phone", "schoolphone", "学校电话", "学校联系电话", "联系电话",
              "电话", "办公电话"),
    "principal_phone": ("principal_phone", "principalphone", "principal'sphone",
                        "校长电话", "校长手机", "校长手机号", "校长联系电话"),
}
REQUIRED = ("code", "name", "district", "stage")
HEADER_SEARCH_ROWS = 10
HEADER_HINTS = {"code": "学校代码", "name": "学校名称", "district": "学区 / 乡镇", "stage": "学段"}

# Stage words as bureaus write them; English codes and labels are accepted too.
STAGE_WORDS: dict[Stage, tuple[str, ...]] = {
    Stage.KINDERGARTEN: ("幼儿园", "学前", "学前教育", "幼儿园/学前"),
    Stage.PRIMARY: ("小学", "完全小学", "中心小学", "完小", "小学校"),
    Stage.JUNIOR: ("初中", "初级中学", "初中学校", "junior secondary", "junior high"),
    Stage.SENIOR: ("高中", "高级中学", "普通高中", "senior secondary", "senior high"),
    Stage.NINE_YEAR: ("九年一贯制", "九年一贯制学校", "九年制", "nine year"),
    Stage.COMPLETE_SECONDARY: ("完全中学", "完中", "complete secondary school"),
    Stage.VOCATIONAL: ("职业学校", "职校", "职高", "职业高中", "中职", "中等职业学校",
                       "职业中学", "职中", "vocational school"),
    Stage.TEACHING_POINT: ("教学点", "teaching point"),
}
TRUE_WORDS = {"1", "yes", "y", "true", "是", "在用", "正常", "开办", "active", "open"}
FALSE_WORDS = {"0", "no", "n", "false", "否", "停办", "撤并", "已撤并", "关闭", "closed",
               "inactive"}


def header_key(value: str) -> str:
    value = value.strip().lower().replace("（", "(").replace("）", ")").replace("*", "")
    return re.sub(r"\s+", "", value)


def _stage_key(value: str) -> str:
    return re.sub(r"[\s\-_]+", " ", value.strip().lower())


HEADER_LOOKUP = {header_key(alias): key for key, aliases in HEADERS.items() for alias in aliases}
_STAGE_LOOKUP: dict[str, Stage] = {}
for _stage, _words in STAGE_WORDS.items():
    for _word in (_stage.value, *_words):
        _STAGE_LOOKUP[_stage_key(_word)] = _stage


def parse_stage(value: str) -> Stage | None:
    return _STAGE_LOOKUP.get(_stage_key(value))
