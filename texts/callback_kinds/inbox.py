"""The kinds of callback data of the inbox (handlers/inbox.py).

Re-exported by texts/callbacks.py, which callers import them from.
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback, RowId


@dataclass(frozen=True)
class InboxList(Callback, prefix="ib:l"):
    """/inbox as a button."""


@dataclass(frozen=True)
class OpenQuestion(Callback, prefix="ib:o"):
    question_id: RowId


@dataclass(frozen=True)
class AnswerQuestion(Callback, prefix="ib:a"):
    question_id: RowId


@dataclass(frozen=True)
class QuestionDone(Callback, prefix="ib:d"):
    question_id: RowId


@dataclass(frozen=True)
class ChooseColleague(Callback, prefix="ib:h"):
    question_id: RowId


@dataclass(frozen=True)
class HandOver(Callback, prefix="ib:H"):
    question_id: RowId
    person_id: RowId


@dataclass(frozen=True)
class AskBureau(Callback, prefix="ib:q"):
    """A school's "ask the bureau": the next message is the question."""


@dataclass(frozen=True)
class SendOffered(Callback, prefix="ib:s"):
    """Under the answer to a school's message nothing waited for: ask it as a question."""


@dataclass(frozen=True)
class CancelAsking(Callback, prefix="ib:x"):
    """Leave the inbox conversation without sending anything."""
