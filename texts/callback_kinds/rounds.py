"""The kinds of callback data of rounds (handlers/rounds/).

Re-exported by texts/callbacks.py, which callers import them from.

Staff's /round screens ("rd:...") and "send again" ("rt:ID", its own prefix, so the
authorization test presses it as every other role).
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback


@dataclass(frozen=True)
class RoundList(Callback, prefix="rd:l"):
    pass


@dataclass(frozen=True)
class NewRound(Callback, prefix="rd:n"):
    pass


@dataclass(frozen=True)
class CancelSetUp(Callback, prefix="rd:x"):
    pass


@dataclass(frozen=True)
class ChooseForm(Callback, prefix="rd:f"):
    form_code: str


@dataclass(frozen=True)
class ChoosePeriod(Callback, prefix="rd:p"):
    index: int
    """Of the suggestions in the set-up's state."""


@dataclass(frozen=True)
class ChooseDeadline(Callback, prefix="rd:d"):
    days: int


@dataclass(frozen=True)
class RoundDistrictTick(Callback, prefix="rd:td"):
    district_id: int


@dataclass(frozen=True)
class RoundStageTick(Callback, prefix="rd:ts"):
    index: int
    """Of models.forms.STAGES."""


@dataclass(frozen=True)
class SchoolsChosen(Callback, prefix="rd:ok"):
    pass


@dataclass(frozen=True)
class OpenRound(Callback, prefix="rd:go"):
    pass


@dataclass(frozen=True)
class ShowRound(Callback, prefix="rd:v"):
    round_id: int


@dataclass(frozen=True)
class ExtendRound(Callback, prefix="rd:e"):
    round_id: int
    days: int


@dataclass(frozen=True)
class TypeDeadline(Callback, prefix="rd:E"):
    round_id: int


@dataclass(frozen=True)
class AskClose(Callback, prefix="rd:c"):
    round_id: int


@dataclass(frozen=True)
class CloseRound(Callback, prefix="rd:C"):
    round_id: int


@dataclass(frozen=True)
class ChooseUnlock(Callback, prefix="rd:u"):
    round_id: int


@dataclass(frozen=True)
class UnlockSchool(Callback, prefix="rd:U"):
    round_id: int
    school_id: int


@dataclass(frozen=True)
class RetryRound(Callback, prefix="rt"):
    """Asks first (ConfirmRetry sends)."""

    round_id: int


# Staff's confirmations (issue 11): a button that changes a deadline carries the deadline
# it was shown with, so a stale or repeated confirmation changes nothing.


@dataclass(frozen=True)
class ConfirmDeadline(Callback, prefix="rd:eY"):
    round_id: int
    was: int  # the deadline shown as the current one, in minutes since the epoch (UTC)
    to: int  # the deadline shown as the new one, likewise


@dataclass(frozen=True)
class BackToRound(Callback, prefix="rd:b"):
    """Cancel a confirmation: the round's screen in its place."""

    round_id: int


@dataclass(frozen=True)
class ConfirmRetry(Callback, prefix="rd:rY"):
    round_id: int
    count: int  # the messages not reached that the confirmation named
