"""Invitations: single-use, expiring codes that bind a Telegram user to a school or district.

A code is 16 characters of Crockford's base-32 alphabet (80 random bits). It is printed
as ABCD-EFGH-JKMN-PQRS for typing from paper (case, dashes, spaces and the look-alikes
O/I/L do not matter) and travels undecorated as the payload of a deep link
`https://t.me/<bot>?start=<CODE>` (within Telegram's 64 characters of [A-Za-z0-9_-]).
Only the SHA-256 of the code is stored, so a copy of the database cannot be used to
join as anyone.

Wrong codes are counted in `invite_attempts` (in the database, so a restart or a second
process does not reset the count); after a `Throttle`'s `max_wrong` of them in its `window`
a user must wait.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.audit import record
from models.base import Base, BigId, UTCDateTime, utcnow
from models.roster.invite_targets import InviteError as InviteError
from models.roster.invite_targets import Targets as Targets
from models.roster.invite_targets import resolve_targets as resolve_targets
from models.roster.people import principal_of, set_role
from models.roster.tables import District, Person, Role, School

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 16  # 16 x 5 bits = 80 bits, well above the 64 asked for
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.]+")
# Text a person might type or paste as a code: groups of letters and digits.
CODE_SHAPED = re.compile(r"^\s*[A-Za-z0-9]{2,}(?:[\s\-_.]+[A-Za-z0-9]+)*\s*$")



@dataclass(frozen=True)
class Throttle:
    """After `max_wrong` wrong codes within `window`, a Telegram user must wait."""

    max_wrong: int = 5
    window: timedelta = timedelta(minutes=10)


DEFAULT_THROTTLE = Throttle()
# How long a Confirm button stays good: enough to read the offer, short enough that an
# old message found later in the chat binds nobody.
OFFER_TTL = timedelta(hours=24)


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    school_id: Mapped[int | None] = mapped_column(
        ForeignKey("schools.id"), nullable=True, index=True
    )
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), nullable=True)
    # A principal invite that says so replaces the school's current principal.
    replaces_principal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"), nullable=True)
    # Set when a newer invite for the same school and role superseded this one.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    school: Mapped[School | None] = relationship()
    district: Mapped[District | None] = relationship()


class InviteAttempt(Base):
    """One wrong code typed by one Telegram user; old rows are pruned as new ones come."""

    __tablename__ = "invite_attempts"
    __table_args__ = (Index("ix_invite_attempts_telegram_id_at", "telegram_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InviteOffer(Base):
    """The invitation a person was last shown with Confirm / Cancel, and the one-time nonce
    that the Confirm button carries instead of the code.

    A button is seen by whoever sees the message and its data can be forged, so the code
    stays here (as the invite it found) and the button only names this offer. One row per
    person: a newer offer makes the older buttons stale; Confirm or Cancel deletes it.
    """

    __tablename__ = "invite_offers"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    invite_id: Mapped[int] = mapped_column(ForeignKey("invites.id"))
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- codes -------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(text: str) -> str | None:
    """The canonical code for what someone typed or clicked, or None if it cannot be one."""
    if not CODE_SHAPED.match(text):
        return None
    code = _SEPARATORS.sub("", text).upper().translate(_LOOKALIKES)
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def looks_like_code(text: str) -> bool:
    """Code-shaped text: worth an answer as a code ("unknown code") rather than the hint.

    Two ways in. Text with a digit is taken loosely (12 to 24 letters and digits), so a
    mistyped code gets "unknown code" rather than silence. Text without a digit must be a
    whole code (16 symbols of the alphabet once normalized) typed in groups of 4 or 8 or
    as one word: about 1 code in 400 has no digit ((22/32)^16) and must still work, while
    words a newcomer types ("hello there friend", 5+5+6 letters) still get the hint.
    """
    if not CODE_SHAPED.match(text):
        return False
    letters = _SEPARATORS.sub("", text)
    if any(c.isdigit() for c in letters):
        return 12 <= len(letters) <= 24
    groups = [g for g in _SEPARATORS.split(text.strip()) if g]
    return normalize(text) is not None and all(len(g) % 4 == 0 for g in groups)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def display(code: str) -> str:
    """ABCD-EFGH-JKMN-PQRS: easy to read aloud and type from paper."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


# --- creating ----------------------------------------------------------------------------


@dataclass
class CreatedInvite:
    invite: Invite
    code: str
    school: School | None
    # The school's district for school invites.
    district: District | None


def parse_duration(text: str) -> timedelta:
    """14d, 48h, 90m, 2w -> timedelta; InviteError on anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*([wdhm])\s*", text.lower())
    if not match or int(match.group(1)) == 0:
        raise InviteError(f"cannot read {text!r} as a duration: use e.g. 14d, 48h or 2w")
    amount, unit = int(match.group(1)), match.group(2)
    delta = {"w": timedelta(weeks=amount), "d": timedelta(days=amount)}.get(unit) or (
        timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount)
    )
    if delta > timedelta(days=366):
        raise InviteError("invitations may last at most a year")
    return delta


# One invite to make: for a school (principals, deputies), a district (district officers)
# or neither (staff).
_Plan = tuple[School | None, District | None]


def _plans(role: Role, targets: Targets) -> list[_Plan]:
    if role is Role.STAFF:
        return [(None, None)]
    if role is Role.DISTRICT_OFFICER:
        return [(None, d) for d in targets.districts]
    return [(s, None) for s in targets.schools]


async def _revoke_open(
    session: AsyncSession, role: Role, plans: list[_Plan], now: datetime
) -> None:
    """Earlier unused invites of the same role for these schools or districts stop working
    (principals and district officers: there is one of each per school or district)."""
    if role not in (Role.PRINCIPAL, Role.DISTRICT_OFFICER):
        return
    school_ids = [s.id for s, _ in plans if s is not None]
    district_ids = [d.id for _, d in plans if d is not None]
    open_invites = (
        update(Invite)
        .where(
            Invite.role == role.value,
            Invite.used_at.is_(None),
            Invite.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    for chunk in _chunks(school_ids):
        await session.execute(open_invites.where(Invite.school_id.in_(chunk)))
    for chunk in _chunks(district_ids):
        await session.execute(open_invites.where(Invite.district_id.in_(chunk)))


async def _districts_of(session: AsyncSession, plans: list[_Plan]) -> dict[int, District]:
    """The districts of the planned schools, to show on each invitation."""
    ids = sorted({s.district_id for s, _ in plans if s is not None})
    query = select(District).where(District.id.in_(ids))
    return {d.id: d for d in (await session.execute(query)).scalars()}


async def create_invites(
    session: AsyncSession,
    role: Role,
    targets: Targets,
    *,
    expires_in: timedelta,
    created_by: int | None = None,
    replace: bool = False,
    now: datetime | None = None,
) -> list[CreatedInvite]:
    """One invite per target; earlier unused invites for the same target and role stop working.

    Superseding keeps "the latest sheet is the valid one" true when staff reprint a lost
    invitation.
    """
    now = now or utcnow()
    replace = replace and role is Role.PRINCIPAL
    plans = _plans(role, targets)
    await _revoke_open(session, role, plans, now)
    districts = await _districts_of(session, plans)
    created: list[CreatedInvite] = []
    for school, district in plans:
        code = new_code()
        invite = Invite(
            code_hash=hash_code(code),
            role=role.value,
            school_id=school.id if school else None,
            district_id=district.id if district else None,
            replaces_principal=replace,
            created_at=now,
            created_by=created_by,
            expires_at=now + expires_in,
        )
        session.add(invite)
        shown_district = districts.get(school.district_id) if school else district
        created.append(CreatedInvite(invite, code, school, shown_district))
    await session.flush()
    record(
        session, "invite.create", actor_id=created_by,
        role=role.value,
        count=len(created),
        schools=[s.code for s, _ in plans if s is not None][:50],
        districts=[d.name for _, d in plans if d is not None],
        replaces_principal=replace,
        expires_at=(now + expires_in).isoformat(),
    )
    return created


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# --- redeeming ---------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"  # superseded by a newer invite
    CLOSED = "closed"  # the school was closed after the invite was made
    TAKEN = "taken"  # the school already has a principal and the invite does not replace
    THROTTLED = "throttled"
    STALE = "stale"  # a Confirm button that is not the presser's latest offer


@dataclass
class Check:
    outcome: Outcome
    invite: Invite | None = None
    school: School | None = None
    district: District | None = None
    # The principal this invite would replace, if any.
    current_principal: Person | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


async def throttled_until(
    session: AsyncSession, telegram_id: int, *, now: datetime, throttle: Throttle
) -> datetime | None:
    """When this user may try codes again, or None if they may now."""
    max_wrong, window = throttle.max_wrong, throttle.window
    recent = list(
        (
            await session.execute(
                select(InviteAttempt.at)
                .where(InviteAttempt.telegram_id == telegram_id, InviteAttempt.at > now - window)
                .order_by(InviteAttempt.at.desc())
                .limit(max_wrong)
            )
        ).scalars()
    )
    if len(recent) < max_wrong:
        return None
    # The oldest of the last max_wrong attempts leaves the window first.
    return recent[-1] + window


async def _wrong_attempt(
    session: AsyncSession, telegram_id: int, now: datetime, window: timedelta
) -> None:
    # Pruning here keeps the table as small as the traffic of the last window.
    await session.execute(
        delete(InviteAttempt).where(
            InviteAttempt.telegram_id == telegram_id, InviteAttempt.at <= now - window
        )
    )
    session.add(InviteAttempt(telegram_id=telegram_id, at=now))
    await session.flush()


async def check_code(
    session: AsyncSession, text: str, telegram_id: int, *, now: datetime | None = None,
    throttle: Throttle = DEFAULT_THROTTLE,
) -> Check:
    """What redeeming this code would do, without doing it.

    Unknown codes count as wrong attempts; used, expired and superseded ones are real
    codes a person was given, so they are explained rather than counted.
    """
    now = now or utcnow()
    retry_at = await throttled_until(session, telegram_id, now=now, throttle=throttle)
    if retry_at is not None:
        return Check(Outcome.THROTTLED, retry_at=retry_at)
    code = normalize(text)
    invite = None
    if code is not None:
        invite = (
            await session.execute(select(Invite).where(Invite.code_hash == hash_code(code)))
        ).scalar_one_or_none()
    if invite is None:
        await _wrong_attempt(session, telegram_id, now, throttle.window)
        return Check(Outcome.UNKNOWN)
    return await _assess(session, invite, telegram_id, now)


async def _assess(
    session: AsyncSession, invite: Invite, telegram_id: int, now: datetime
) -> Check:
    """What redeeming this (real) invite would do for this Telegram user now."""
    school = await session.get(School, invite.school_id) if invite.school_id else None
    district_id = school.district_id if school else invite.district_id
    district = await session.get(District, district_id) if district_id else None
    check = Check(Outcome.OK, invite=invite, school=school, district=district)
    if invite.used_at is not None:
        check.outcome = Outcome.USED
    elif invite.revoked_at is not None:
        check.outcome = Outcome.REVOKED
    elif invite.expires_at <= now:
        check.outcome = Outcome.EXPIRED
    elif school is not None and not school.active:
        check.outcome = Outcome.CLOSED
    elif invite.role == Role.PRINCIPAL.value and school is not None:
        current = await principal_of(session, school.id)
        if current is not None and current.telegram_id != telegram_id:
            check.current_principal = current
            if not invite.replaces_principal:
                check.outcome = Outcome.TAKEN
    return check


async def redeem(
    session: AsyncSession, text: str, person: Person, *, now: datetime | None = None,
    throttle: Throttle = DEFAULT_THROTTLE,
) -> Check:
    """Check the code again and, if it still works, bind the person and use the code up."""
    now = now or utcnow()
    check = await check_code(session, text, person.telegram_id, now=now, throttle=throttle)
    return await _claim(session, check, person, now)


async def make_offer(
    session: AsyncSession, person: Person, invite: Invite, *, now: datetime | None = None
) -> str:
    """Remember that this person was offered this invite; the nonce for their Confirm button.

    Replaces the person's earlier offer, so only the latest Confirm button works.
    """
    nonce = secrets.token_urlsafe(16)  # 22 characters, 128 bits
    await session.execute(delete(InviteOffer).where(InviteOffer.person_id == person.id))
    offer = InviteOffer(
        person_id=person.id, invite_id=invite.id, nonce=nonce, created_at=now or utcnow()
    )
    session.add(offer)
    await session.flush()
    return nonce


async def withdraw_offer(session: AsyncSession, person: Person, nonce: str) -> bool:
    """Forget the person's offer if `nonce` is its nonce (Cancel); True if there was one."""
    gone = await session.execute(
        delete(InviteOffer)
        .where(InviteOffer.person_id == person.id, InviteOffer.nonce == nonce)
        .execution_options(synchronize_session=False)
    )
    return getattr(gone, "rowcount", 0) == 1


async def redeem_offer(
    session: AsyncSession,
    nonce: str,
    person: Person,
    *,
    now: datetime,
    ttl: timedelta = OFFER_TTL,
) -> Check:
    """Confirm: redeem the invite of the presser's own latest offer if `nonce` is its nonce.

    Anything else (another person's button, a forged or reused nonce, an offer older than
    `ttl`) is STALE and changes nothing, not even the presser's own offer. The offer is
    used up by a conditional DELETE, so of two presses of one button exactly one goes on.
    """
    offer = await session.get(InviteOffer, person.id)
    if (
        offer is None
        or not secrets.compare_digest(offer.nonce.encode(), nonce.encode())
        or offer.created_at <= now - ttl
    ):
        return Check(Outcome.STALE)
    invite_id = offer.invite_id
    session.expunge(offer)
    if not await withdraw_offer(session, person, offer.nonce):
        return Check(Outcome.STALE)  # the other of two presses at once took it
    invite = await session.get(Invite, invite_id)
    assert invite is not None  # invites are never deleted
    check = await _assess(session, invite, person.telegram_id, now)
    return await _claim(session, check, person, now)


async def _claim(session: AsyncSession, check: Check, person: Person, now: datetime) -> Check:
    """Bind the person as the checked invite says and use the invite up."""
    if not check.ok:
        return check
    invite = check.invite
    assert invite is not None
    # Claiming with a conditional UPDATE makes two simultaneous confirmations of one
    # code safe on both engines: exactly one of them sees a row change.
    claimed = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now, used_by=person.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        check.outcome = Outcome.USED
        return check
    invite.used_at, invite.used_by = now, person.id
    role = Role(invite.role)
    reason = f"invite {invite.id}"
    if check.current_principal is not None:
        await set_role(
            session,
            check.current_principal,
            Role.NONE,
            actor_id=person.id,
            reason=f"replaced by a new principal through invite {invite.id}",
        )
    if role in (Role.PRINCIPAL, Role.DEPUTY):
        await set_role(session, person, role, school_id=invite.school_id, reason=reason)
    elif role is Role.DISTRICT_OFFICER:
        await set_role(session, person, role, district_id=invite.district_id, reason=reason)
    else:
        await set_role(session, person, role, reason=reason)
    record(
        session, "invite.redeem", invite.id, actor_id=person.id,
        role=invite.role,
        school=check.school.code if check.school else None,
        district=check.district.name if check.district else None,
    )
    return check


async def invite_counts(session: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """Pending, used and expired invites, for the CLI and staff."""
    now = now or utcnow()
    used = func.count().filter(Invite.used_at.is_not(None))
    pending = func.count().filter(
        Invite.used_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > now
    )
    row = (await session.execute(select(used, pending))).one()
    return {"used": int(row[0]), "pending": int(row[1])}
