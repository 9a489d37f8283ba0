"""The kinds of callback data of status and exports (handlers/status.py, handlers/export.py).

Re-exported by texts/callbacks.py, which callers import them from.
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback


@dataclass(frozen=True)
class StatusRounds(Callback, prefix="st:l"):
    """The /status round list."""


@dataclass(frozen=True)
class StatusRound(Callback, prefix="st:r"):
    round_id: int


@dataclass(frozen=True)
class StatusDistrict(Callback, prefix="st:d"):
    round_id: int
    district_id: int


@dataclass(frozen=True)
class RemindDistrict(Callback, prefix="st:m"):
    """Asks first: the confirmation says whom the reminder reaches and whom it cannot."""

    round_id: int
    district_id: int


@dataclass(frozen=True)
class ConfirmRemind(Callback, prefix="st:my"):
    round_id: int
    district_id: int
    missing: int  # how many schools the confirmation named: a changed list asks again


@dataclass(frozen=True)
class ExportRound(Callback, prefix="ex"):
    round_id: int


@dataclass(frozen=True)
class ExportCharts(Callback, prefix="xch"):
    """The charts of a round, from the button under its workbook (handlers/export.py)."""

    round_id: int


@dataclass(frozen=True)
class ExportFiles(Callback, prefix="xfl"):
    """The files schools sent in a round, as a zip, from under its workbook (handlers/export.py)."""

    round_id: int
