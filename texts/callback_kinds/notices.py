"""The kinds of callback data of notices (handlers/notices/).

Re-exported by texts/callbacks.py, which callers import them from.

The data strings are those the bot has always sent ("nd:send:3", "nv:7:r", "nack:7", "nl:"),
so buttons already in people's chats keep working. Kinds whose prefix starts another's
("nd:d" and "nd") are registered most specific first (handlers/notices/__init__.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from texts.callback_codec import KINDS, SEPARATOR, Callback, Stale


@dataclass(frozen=True)
class _NoticeButton(Callback):
    """A notices button owns every data that starts with its prefix, so that data such as
    "nv999999" (no separator) is answered as stale rather than left unanswered."""

    @classmethod
    def matches(cls, data: object) -> bool:
        if _strictly(cls, data):
            return True
        if not isinstance(data, str) or not data.startswith(cls.PREFIX):
            return False
        # Claimed loosely only when no kind takes it properly, and by the longest prefix.
        if any(_strictly(kind, data) for kind in KINDS.values()):
            return False
        owners = [kind for kind in KINDS.values() if data.startswith(kind.PREFIX)]
        return max(owners, key=lambda kind: len(kind.PREFIX)) is cls

    @classmethod
    def unpack(cls, data: object) -> Self:
        if not _strictly(cls, data):
            raise Stale(data)
        return super().unpack(data)


def _strictly(kind: type[Callback], data: object) -> bool:
    """The codec's own test: the prefix, then the separator or nothing."""
    return isinstance(data, str) and (
        data == kind.PREFIX or data.startswith(kind.PREFIX + SEPARATOR)
    )


def _one_of(value: object, allowed: frozenset[object]) -> None:
    """A value outside a button's few known ones makes the whole button stale."""
    if value not in allowed:
        raise Stale(value)


@dataclass(frozen=True)
class DraftAction(_NoticeButton, prefix="nd"):
    """Composer buttons without a value: start, cancel, resume, new, noatt, pvack."""

    action: str

    def __post_init__(self) -> None:
        _one_of(self.action, frozenset(
            {"start", "cancel", "resume", "new", "noatt", "pvack"}
        ))


@dataclass(frozen=True)
class ChooseAudience(_NoticeButton, prefix="nd:aud"):
    """The audience question ("nd:aud", back to it) and its answers (all, d, s, c)."""

    choice: str | None = None

    def __post_init__(self) -> None:
        _one_of(self.choice, frozenset({None, "all", "d", "s", "c"}))


@dataclass(frozen=True)
class DistrictsDone(_NoticeButton, prefix="nd:d:ok"):
    pass


@dataclass(frozen=True)
class NoticeDistrictTick(_NoticeButton, prefix="nd:d"):
    district_id: int


@dataclass(frozen=True)
class StagesDone(_NoticeButton, prefix="nd:s:ok"):
    pass


@dataclass(frozen=True)
class NoticeStageTick(_NoticeButton, prefix="nd:s"):
    stage: str


@dataclass(frozen=True)
class ChooseAck(_NoticeButton, prefix="nd:ack"):
    required: int

    def __post_init__(self) -> None:
        _one_of(self.required, frozenset({0, 1}))


@dataclass(frozen=True)
class ChooseWhen(_NoticeButton, prefix="nd:w"):
    mode: str

    def __post_init__(self) -> None:
        _one_of(self.mode, frozenset({"now", "at"}))


@dataclass(frozen=True)
class OpenEdit(_NoticeButton, prefix="nd:edit"):
    version: int


@dataclass(frozen=True)
class EditPart(_NoticeButton, prefix="nd:e"):
    part: str
    version: int

    def __post_init__(self) -> None:
        _one_of(self.part, frozenset({"title", "text", "att", "aud", "ack", "when", "back"}))


@dataclass(frozen=True)
class SendDraft(_NoticeButton, prefix="nd:send"):
    version: int


@dataclass(frozen=True)
class ViewNotice(_NoticeButton, prefix="nv"):
    """Staff open a notice's progress; refresh "r" edits the message in place."""

    notice_id: int
    refresh: str | None = None

    def __post_init__(self) -> None:
        _one_of(self.refresh, frozenset({None, "r"}))


@dataclass(frozen=True)
class RemindNotice(_NoticeButton, prefix="nr"):
    """The k-th reminder of a notice: the same k twice sends once."""

    notice_id: int
    k: int


@dataclass(frozen=True)
class RetryNotice(_NoticeButton, prefix="nt"):
    notice_id: int


@dataclass(frozen=True)
class OpenNotice(_NoticeButton, prefix="nf"):
    notice_id: int


@dataclass(frozen=True)
class Acknowledge(_NoticeButton, prefix="nack"):
    notice_id: int


@dataclass(frozen=True)
class ListNotices(_NoticeButton, prefix="nl"):
    """/notices as a button; its data has always been "nl:" with the separator."""

    def pack(self) -> str:
        return super().pack() + SEPARATOR
