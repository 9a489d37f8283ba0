"""The order people read lists of schools in: by district, then by name, numbers in a
name compared as numbers (城关第7初中 before 城关第10幼儿园, 第二中学 as written).

One key for every list of schools (status screens, /schools, workbook rows, CLI lists),
so a school stands in the same place wherever a person meets it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

_NUMBER = re.compile(r"\d+")
_WIDTH = 20  # digits: longer runs (no school has them) compare as text


def _padded(match: re.Match[str]) -> str:
    return match.group().zfill(_WIDTH)


def natural_key(name: str) -> str:
    """A text's sort key with its runs of digits compared by value: "第7" < "第10"
    ("007" and "7" alike). Digits are padded to one width, so the key is a plain string:
    a 20,000-school list sorts in a few tens of milliseconds."""
    return _NUMBER.sub(_padded, name.strip().casefold())


@lru_cache(maxsize=4096)
def _district_key(name: str) -> str:
    return natural_key(name)  # a handful of districts, repeated on every school


def school_key(district: str | None, name: str, code: str = "") -> tuple[str, str, str]:
    """A school's place in a list: its district's name, then its own, then its code
    (two schools of one name stay in a fixed order)."""
    return (_district_key(district or ""), natural_key(name), code)


class NamedSchool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def code(self) -> str: ...


def by_name(school: NamedSchool) -> tuple[str, str]:
    """The key of a school listed within one district (or with its district apart)."""
    return (natural_key(school.name), school.code)
