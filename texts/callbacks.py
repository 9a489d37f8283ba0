"""Every button's callback data: one small class per kind of button, each prefix declared once.

A kind is a frozen dataclass whose fields are the values the button carries:

    @dataclass(frozen=True)
    class OpenReport(Callback, prefix="rp:o"):
        round_id: int

    OpenReport(7).pack() == "rp:o:7"
    OpenReport.unpack("rp:o:7") == OpenReport(7)

Callback data comes from the presser's phone and is untrusted (DESIGN principle 6):
`unpack` accepts only the exact shape of the kind (the right number of parts, numbers
that a row id can hold, no separator inside a text) and raises `Stale` for anything else,
which handlers answer in one way ("this button is no longer valid", handlers/menu.py).
Telegram allows 64 bytes of callback data; `pack` refuses more.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Self, Union, get_args, get_origin, get_type_hints

SEPARATOR = ":"
MAX_BYTES = 64
# Every id a button carries is a row id, a 32-bit integer on PostgreSQL.
ID_LIMIT = 2**31

# prefix -> kind; filled as the kinds below are defined.
KINDS: dict[str, type[Callback]] = {}


class Stale(ValueError):
    """Callback data that is malformed, forged or from an older version of the bot."""


@dataclass(frozen=True)
class Callback:
    """The base of every kind of button; see the module's docstring."""

    PREFIX: ClassVar[str] = ""

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix:
            return
        if prefix in KINDS:
            raise ValueError(f"callback prefix {prefix!r} is declared twice")
        cls.PREFIX = prefix
        KINDS[prefix] = cls

    def pack(self) -> str:
        parts = [self.PREFIX, *(_encode(getattr(self, f.name)) for f in fields(self))]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()  # optional values left out at the end
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def matches(cls, data: object) -> bool:
        """Whether `data` is meant for this kind (its shape is checked by `unpack`)."""
        return isinstance(data, str) and (
            data == cls.PREFIX or data.startswith(cls.PREFIX + SEPARATOR)
        )

    @classmethod
    def unpack(cls, data: object) -> Self:
        if not cls.matches(data):
            raise Stale(data)
        assert isinstance(data, str)
        rest = data[len(cls.PREFIX) + 1 :]
        parts = rest.split(SEPARATOR) if rest else []
        own = fields(cls)
        if len(parts) > len(own):
            raise Stale(data)
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for index, field in enumerate(own):
            if index < len(parts):
                values[field.name] = _decode(hints[field.name], parts[index], data)
            elif field.default is MISSING and field.default_factory is MISSING:
                raise Stale(data)
        return cls(**values)


def kind_of(data: object) -> type[Callback] | None:
    """The kind a button's data is meant for, by its longest matching prefix."""
    found = [kind for kind in KINDS.values() if kind.matches(data)]
    return max(found, key=lambda kind: len(kind.PREFIX), default=None)


def _encode(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if SEPARATOR in text:
        raise ValueError(f"{SEPARATOR!r} inside a callback value: {text!r}")
    return text


def _decode(hint: Any, raw: str, data: str) -> Any:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    if optional:
        if raw == "":
            return None
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    if hint is int:
        if not raw.isdigit() or len(raw) > 10 or int(raw) >= ID_LIMIT:
            raise Stale(data)
        return int(raw)
    if hint is str:
        if raw == "" and not optional:
            raise Stale(data)
        return raw
    raise TypeError(f"unsupported callback field type {hint!r}")


# --- the kinds, one section per capability -----------------------------------------------
# Each capability declares its buttons in its own section below, so that every prefix in
# use can be read in this one file.

# --- home and start (handlers/menu.py, handlers/start.py) ---


@dataclass(frozen=True)
class Home(Callback, prefix="menu:home"):
    """Back to the /menu home screen."""


@dataclass(frozen=True)
class ChooseLanguage(Callback, prefix="lang"):
    code: str  # one of texts.i18n.LANGUAGES; anything else is refused by the handler

# --- onboarding and admin (handlers/onboarding.py, handlers/admin/) ---


@dataclass(frozen=True)
class ConfirmInvite(Callback, prefix="inv:y"):
    nonce: str  # the offer's one-time nonce, never the code (models.roster.invites.make_offer)


@dataclass(frozen=True)
class CancelInvite(Callback, prefix="inv:n"):
    nonce: str | None = None  # older buttons carry none: they withdraw nothing


@dataclass(frozen=True)
class DistrictsPage(Callback, prefix="adm:sd"):
    page: int


@dataclass(frozen=True)
class SchoolsPage(Callback, prefix="adm:sl"):
    district_id: int
    page: int


@dataclass(frozen=True)
class SchoolCard(Callback, prefix="adm:ss"):
    school_id: int


@dataclass(frozen=True)
class PeopleOverview(Callback, prefix="adm:pp"):
    page: int  # always 0: one page; kept in the data so older buttons stay valid


@dataclass(frozen=True)
class MissingPrincipalsPage(Callback, prefix="adm:pm"):
    page: int


@dataclass(frozen=True)
class StaffList(Callback, prefix="adm:st"):
    page: int  # always 0, as PeopleOverview


@dataclass(frozen=True)
class PersonCard(Callback, prefix="adm:pc"):
    person_id: int


@dataclass(frozen=True)
class AskUnbind(Callback, prefix="adm:ub"):
    person_id: int


@dataclass(frozen=True)
class Unbind(Callback, prefix="adm:uy"):
    person_id: int
    bound_to: int  # the school or district id the person was bound to when it was shown


@dataclass(frozen=True)
class MakeStaff(Callback, prefix="adm:mk"):
    person_id: int


@dataclass(frozen=True)
class RemoveStaff(Callback, prefix="adm:rm"):
    person_id: int


@dataclass(frozen=True)
class InviteToSchool(Callback, prefix="adm:iv"):
    school_id: int
    kind: str  # p: the principal, r: a principal replacing the current one, d: a deputy


@dataclass(frozen=True)
class InviteDistrictOfficer(Callback, prefix="adm:id"):
    district_id: int


@dataclass(frozen=True)
class InviteStaff(Callback, prefix="adm:is"):
    page: int  # always 0, as PeopleOverview

# --- status and exports (handlers/status.py) ---


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
    round_id: int
    district_id: int


@dataclass(frozen=True)
class ExportRound(Callback, prefix="ex"):
    round_id: int

# --- the report (handlers/report/) ---

# --- rounds (handlers/rounds/) ---
# Staff's /round screens ("rd:...") and "send again" ("rt:ID", its own prefix, so the
# authorization test presses it as every other role).


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
    round_id: int


# --- notices (handlers/notices/) ---
# The data strings are those the bot has always sent ("nd:send:3", "nv:7:r", "nack:7", "nl:"),
# so buttons already in people's chats keep working. Kinds whose prefix starts another's
# ("nd:d" and "nd") are registered most specific first (handlers/notices/__init__.py).


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
        _one_of(self.part, frozenset({"text", "att", "aud", "ack", "when", "back"}))


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
