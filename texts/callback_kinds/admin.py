"""The kinds of callback data of onboarding and admin (handlers/onboarding.py, handlers/admin/).

Re-exported by texts/callbacks.py, which callers import them from.
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback


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
