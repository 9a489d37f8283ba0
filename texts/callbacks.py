"""Every button's callback data: one small class per kind of button, each prefix declared once.

A kind is a frozen dataclass whose fields are the values the button carries:

    @dataclass(frozen=True)
    class OpenReport(Callback, prefix="rp:o"):
        round_id: RowId

    OpenReport(7).pack() == "rp:o:7"
    OpenReport.unpack("rp:o:7") == OpenReport(7)

Callback data comes from the presser's phone and is untrusted (DESIGN principle 6):
`unpack` accepts only the exact shape of the kind (the right number of parts, numbers
that a row id can hold, no separator inside a text) and raises `Stale` for anything else,
which handlers answer in one way ("this button is no longer valid", handlers/menu.py).
Telegram allows 64 bytes of callback data; `pack` refuses more.

A field is an `int` (digits, below ID_LIMIT), a `str` (no separator), either of them
optional (`| None`, left empty), or a shaped type (`RowId`, `Token`, `Index`): an int or
str whose text on the wire must also match a pattern, checked by `unpack` and by `pack`
alike. The machinery (the base class, the types, the wire format) is in
texts/callback_codec.py; the kinds are all here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

# The codec's machinery (texts/callback_codec.py), imported from here with the kinds.
from texts.callback_codec import KINDS as KINDS
from texts.callback_codec import SEPARATOR as SEPARATOR
from texts.callback_codec import Callback as Callback
from texts.callback_codec import Index, RowId, Token
from texts.callback_codec import Stale as Stale
from texts.callback_codec import kind_of as kind_of

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


# Confirmations (issue 11): the button carries what the question showed.


@dataclass(frozen=True)
class ConfirmRemoveStaff(Callback, prefix="adm:rY"):
    person_id: int


@dataclass(frozen=True)
class ConfirmSchoolInvite(Callback, prefix="adm:iY"):
    school_id: int
    kind: str  # as InviteToSchool
    revokes: int  # the open principal invitation the question said would stop working


@dataclass(frozen=True)
class ConfirmDistrictInvite(Callback, prefix="adm:dY"):
    district_id: int
    revokes: int  # the open district officer invitation the question said would stop working


@dataclass(frozen=True)
class SchoolSearchPage(Callback, prefix="adm:sq"):
    page: int
    text: str  # the words searched for (cut so the data fits in 64 bytes)

# --- status and exports (handlers/status.py) ---
# --- status and exports (handlers/status.py, handlers/export.py) ---


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

# --- the report (handlers/report/) ---
# "rp:<action>:..." with one letter per action; the data strings are those the bot has
# always sent, so buttons already in chats keep working. A report's button names the
# submission (not the round), and a question's button names the question too, so that a
# button of an earlier question is refused rather than answering the wrong one.


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

# --- the inbox (handlers/inbox.py) ---


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

# --- district review (handlers/review.py) ---


@dataclass(frozen=True)
class ReviewList(Callback, prefix="rv:l"):
    """/review as a button: what waits for the presser's decision."""


@dataclass(frozen=True)
class OpenReview(Callback, prefix="rv:o"):
    review_id: RowId


@dataclass(frozen=True)
class ApproveReview(Callback, prefix="rv:a"):
    """Names the revision shown, so a newer one cannot be approved unseen."""

    review_id: RowId
    revision: int


@dataclass(frozen=True)
class ReturnReview(Callback, prefix="rv:r"):
    review_id: RowId
    revision: int


@dataclass(frozen=True)
class CancelReview(Callback, prefix="rv:x"):
    """Leave the return's comment without returning anything."""


@dataclass(frozen=True)
class ReviewToggle(Callback, prefix="rd:rv"):
    """The round set-up's district review toggle (handlers/rounds/wizard.py)."""
