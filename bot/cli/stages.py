"""`--stages` (and `--stage`) as the roster takes them: codes (primary, junior) or the
words bureaus write (小学, 初中, 九年一贯制 ...), read by the roster's own reader."""

from __future__ import annotations

from collections.abc import Sequence

from bot.cli import CliError
from models.roster.roster_file import parse_stage
from models.roster.tables import Stage


def stage_codes(values: Sequence[str] | None, option: str = "--stages") -> list[str] | None:
    """The stage codes of what was typed, in order, each once (None: the option was absent)."""
    if values is None:
        return None
    codes: list[str] = []
    unknown: list[str] = []
    for value in values:
        stage = parse_stage(value)
        if stage is None:
            unknown.append(value)
        elif stage.value not in codes:
            codes.append(stage.value)
    if unknown:
        known = ", ".join(s.value for s in Stage)
        raise CliError(
            f"{option}: unknown stage {', '.join(map(repr, unknown))} (stages: {known}, or "
            "their Chinese "
            "names such as 小学, 初中, 高中)"
        )
    return codes
