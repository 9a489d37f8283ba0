"""The kinds of callback data of the report (handlers/report/).

Re-exported by texts/callbacks.py, which callers import them from.

"rp:<action>:..." with one letter per action; the data strings are those the bot has
always sent, so buttons already in chats keep working. A report's button names the
submission (not the round), and a question's button names the question too, so that a
button of an earlier question is refused rather than answering the wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback, Index, RowId, Token


@dataclass(frozen=True)
class OpenReport(Callback, prefix="rp:o"):
    """Open the presser's school's report in a round (the announcement, /report, reminders)."""

    round_id: RowId


@dataclass(frozen=True)
class ReportButton(Callback):
    """A button of one school's report, on any of its screens."""

    submission_id: RowId


@dataclass(frozen=True)
class PauseReport(ReportButton, prefix="rp:x"):
    """Pause (or cancel the reason prompt); answers are kept."""


@dataclass(frozen=True)
class ReviewReport(ReportButton, prefix="rp:r"):
    pass


@dataclass(frozen=True)
class SubmitReport(ReportButton, prefix="rp:S"):
    pass


@dataclass(frozen=True)
class ReviseReport(ReportButton, prefix="rp:v"):
    """Revise a submitted report."""


@dataclass(frozen=True)
class EditAnswer(ReportButton, prefix="rp:e"):
    """Go to a question from the review (its ✏️, or "Continue answering")."""

    token: Token  # the question's key_token


@dataclass(frozen=True)
class RemoveItem(ReportButton, prefix="rp:D"):
    """Remove an added item of a group, from the review."""

    token: Token  # key_token of the group's "add an item" question
    index: Index


@dataclass(frozen=True)
class QuestionButton(ReportButton):
    """A button of the question shown: refused once the report has moved past it."""

    token: Token  # the question's key_token


@dataclass(frozen=True)
class KeepAnswer(QuestionButton, prefix="rp:k"):
    """Keep the value shown (the current answer or last period's)."""


@dataclass(frozen=True)
class PickChoice(QuestionButton, prefix="rp:c"):
    index: Index


@dataclass(frozen=True)
class TickChoice(QuestionButton, prefix="rp:t"):
    index: Index


@dataclass(frozen=True)
class DoneTicking(QuestionButton, prefix="rp:d"):
    pass


@dataclass(frozen=True)
class SkipQuestion(QuestionButton, prefix="rp:s"):
    pass


@dataclass(frozen=True)
class AddItem(QuestionButton, prefix="rp:y"):
    pass


@dataclass(frozen=True)
class NoMoreItems(QuestionButton, prefix="rp:n"):
    pass


@dataclass(frozen=True)
class GoBack(QuestionButton, prefix="rp:b"):
    pass


@dataclass(frozen=True)
class ReportList(Callback, prefix="rp:l"):
    """The presser's school's reports, as /report lists them."""


@dataclass(frozen=True)
class ViewSubmitted(ReportButton, prefix="rp:w"):
    """The submitted report, read-only: its latest revision's answers."""


@dataclass(frozen=True)
class AskDiscard(ReportButton, prefix="rp:q"):
    """"Discard the changes" of a revision under way: asks to confirm."""


@dataclass(frozen=True)
class DiscardRevision(ReportButton, prefix="rp:Q"):
    """The confirmation: the revision begun after submitted revision `revision` goes."""

    revision: RowId  # the submitted revision shown; another one since refuses the press
