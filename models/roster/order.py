"""The order people read lists of schools in: by district, then by name, numbers in a
name compared as numbers (城关第7初中 before 城关第10幼儿园, 第二中学 as written).

One key for every list of schools (status screens, /schools, workbook rows, CLI lists),
so a school stands in the same place wherever a person meets it.
"""

from __future__ import annotations

import re
from typing import Protocol

_NUMBER = re.compile(r"(\d+)")

NaturalKey = tuple[tuple[int, int | str], ...]


def natural_key(name: str) -> NaturalKey:
    """A text's sort key with its runs of digits compared by value: "第7" < "第10".
    Each part is tagged so that a number and a text never meet in one comparison
    (numbers first, as in a file manager)."""
    parts: list[tuple[int, int | str]] = []
    for i, part in enumerate(_NUMBER.split(name.strip())):
        if not part:
            continue
        parts.append((0, int(part)) if i % 2 else (1, part.casefold()))
    return tuple(parts)


def school_key(district: str | None, name: str, code: str = "") -> tuple[object, ...]:
    """A school's place in a list: its district's name, then its own, then its code
    (two schools of one name stay in a fixed order)."""
    return (natural_key(district or ""), natural_key(name), code)


class NamedSchool(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def code(self) -> str: ...


def by_name(school: NamedSchool) -> tuple[object, ...]:
    """The key of a school listed within one district (or with its district apart)."""
    return (natural_key(school.name), school.code)
