"""What the staff screens of /schools, /people and /invite say, and how an invitation
names what it is for (the same words on the staff's invitation and on the screen the
invited person sees when they redeem it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

from models.roster.order import school_key
from models.roster.phones import phones_for
from models.roster.roster_file import DistrictSummary, RosterEntry
from models.roster.tables import District, Person, School
from texts.contacts import phones_text, with_phones
from texts.i18n import Gettext, colon
from texts.labels import role_label, stage_label
from texts.when import show


def person_text(person: Person) -> str:
    """A person as staff screens name them: their name, and @username when they have one."""
    name = escape(person.name or "?")
    return f"{name} (@{escape(person.username)})" if person.username else name


def invited_as(
    _: Gettext, role: str, school: School | None, district: District | None, bureau: str
) -> str:
    """'principal of <school>, <district>': what an invitation is for."""
    label = role_label(role, _)
    if school is not None and district is not None:
        return _("{role} of <b>{school}</b>, {district}").format(
            role=label, school=escape(school.name), district=escape(district.name)
        )
    if district is not None:
        return _("{role} of <b>{district}</b>").format(role=label, district=escape(district.name))
    return _("{role} of <b>{bureau}</b>").format(role=label, bureau=escape(bureau))


def invitation_text(
    _: Gettext,
    what: str,
    *,
    code: str,
    link: str,
    expires_at: datetime,
    tz: tzinfo,
    replaces_principal: bool,
    language: str,
    now: datetime,
) -> str:
    """The new invitation as staff forward it: what for, the code, the link, until when."""
    lines = [
        _("Invitation: {what}").format(what=what),
        _("Code: {code}").format(code=f"<code>{code}</code>"),
        _("Link: {link}").format(link=link),
        _("Valid until {time}, and only once.").format(
            time=show(expires_at, tz, "full", language, now)
        ),
    ]
    if replaces_principal:
        lines.append(_("When it is used, the school's current principal is unbound."))
    lines.append(
        _("Forward this message to the person, or let them scan the QR code with their phone.")
    )
    return "\n".join(lines)


def invite_help(_: Gettext) -> str:
    """/invite without an argument."""
    return "\n".join(
        [
            _("<b>Invitations</b>"),
            _("/invite CODE: invite the principal or a deputy of a school"),
            _("/invite NAME: find a school by part of its name"),
            _("/invite district NAME: invite a district officer"),
            _("/invite staff: invite a bureau staff member (administrators)"),
            _(
                "To invite every school at once, use `huibao invites create --all "
                "--xlsx invitations.xlsx` on the server: it makes a printable sheet "
                "with QR codes."
            ),
        ]
    )


def connected_line(_: Gettext, summaries: Sequence[DistrictSummary]) -> str:
    """How many open schools have their principal connected (/people and the staff menu)."""
    return _("Principals connected: {connected} of {schools} open schools.").format(
        connected=sum(s.with_principal for s in summaries),
        schools=sum(s.schools for s in summaries),
    )


def people_text(
    _: Gettext, summaries: Sequence[DistrictSummary], *, deputies: int, officers: int, staff: int
) -> str:
    """/people: who is connected, and the schools still without a principal by district."""
    lines = [
        _("<b>People</b>"),
        connected_line(_, summaries),
        _("Deputies / data clerks: {deputies}. District officers: {officers}. "
          "Bureau staff: {staff}.").format(deputies=deputies, officers=officers, staff=staff),
    ]
    missing = [s for s in summaries if s.without_principal]
    if missing:
        lines.append("")
        lines.append(_("<b>Schools without a principal, by district</b>"))
        lines.extend(
            colon(_, escape(s.district.name), str(s.without_principal)) for s in missing
        )
    lines.append("")
    lines.append(_("To find someone, send /people and part of their name, @username or school."))
    return "\n".join(lines)


def school_line(entry: RosterEntry, _: Gettext) -> str:
    """A school in a list: code, name, stage, closed or not, its principal, its numbers
    (the /schools screens are staff's only)."""
    principal = entry.principal
    who = person_text(principal) if principal else _("no principal yet")
    closed = "" if entry.school.active else " · " + _("inactive")
    line = (
        f"<code>{escape(entry.school.code)}</code> {escape(entry.school.name)} · "
        f"{stage_label(entry.school.stage, _)}{closed} · {who}"
    )
    return with_phones(_, line, phones_for(entry.school, entry.contacts))


def school_card(entry: RosterEntry, _: Gettext) -> str:
    """A school's card: where it is, what it is, who answers for it."""
    school, principal = entry.school, entry.principal
    lines = [
        f"<b>{escape(school.name)}</b>",
        _("Code: {code}").format(code=f"<code>{escape(school.code)}</code>"),
        _("District: {district}").format(district=escape(entry.district.name)),
        _("Stage: {stage}").format(stage=stage_label(school.stage, _)),
        _("Status: {status}").format(status=_("active") if school.active else _("inactive")),
        _("Principal: {person}").format(
            person=person_text(principal) if principal else _("no principal yet")
        ),
    ]
    if entry.deputies:
        lines.append(
            _("Deputies / data clerks: {people}").format(
                people=", ".join(person_text(p) for p in entry.deputies)
            )
        )
    phones = phones_text(_, phones_for(school, entry.contacts))
    if phones:
        lines.append(phones)
    return "\n".join(lines)


def missing_principals_text(_: Gettext, entries: Sequence[RosterEntry], total: int) -> str:
    """One page of the schools without a principal, grouped under their district."""
    lines = [_("<b>Schools without a principal</b>: {count}").format(count=total)]
    current = None
    for entry in sorted(
        entries, key=lambda e: school_key(e.district.name, e.school.name, e.school.code)
    ):
        if entry.district.name != current:
            current = entry.district.name
            lines.append(f"<b>{escape(current)}</b>")
        line = f"  <code>{escape(entry.school.code)}</code> {escape(entry.school.name)}"
        lines.append(with_phones(_, line, phones_for(entry.school, entry.contacts)))
    return "\n".join(lines)


def staff_text(_: Gettext, staff: Sequence[Person], *, for_admin: bool) -> str:
    """The bureau's staff and administrators; an admin also learns how to add one."""
    lines = [_("<b>Bureau staff</b>")]
    lines.extend(f"{person_text(p)} · {role_label(p.role, _)}" for p in staff)
    if for_admin:
        lines.append("")
        lines.append(
            _("To make someone staff, find them with /people and a name, and open their card.")
        )
    return "\n".join(lines)


def person_card(_: Gettext, person: Person, binding: str) -> str:
    """A person's card; `binding` is what they answer for ("principal of …")."""
    lines = [
        f"<b>{person_text(person)}</b>",
        _("Telegram id: {id}").format(id=person.telegram_id),
        _("Role: {role}").format(role=binding),
    ]
    if not person.reachable:
        lines.append(_("Has blocked the bot: messages do not reach them."))
    return "\n".join(lines)


# --- confirmations (issue 11) ----------------------------------------------------------


def remove_staff_question_text(_: Gettext, person: str) -> str:
    return _(
        "Remove {person} from bureau staff? They will no longer see rounds, notices or "
        "schools in this bot, and will be told so."
    ).format(person=person)


def staff_already_removed_text(_: Gettext, person: str) -> str:
    return _("{person} is not bureau staff (any more): nothing was changed.").format(
        person=person
    )


def school_invite_question(
    _: Gettext, school: str, *, revokes: bool, replaces: str | None
) -> str:
    """Before a principal's invitation is made for a school: a new code makes the one
    printed on the school's invitation sheet stop working; a replacing one, once used,
    takes the place of the current principal."""
    lines = [_("Invite a principal for {school}?").format(school=escape(school))]
    if revokes:
        lines.append(_(
            "This revokes the school's current invitation code (the one printed on its "
            "invitation sheet) and makes a new one."
        ))
    if replaces is not None:
        lines.append(_(
            "Whoever uses the new code becomes the principal in place of {name}."
        ).format(name=escape(replaces)))
    return "\n".join(lines)


def district_invite_question(_: Gettext, district: str) -> str:
    return _(
        "Invite a district officer for {district}? This revokes the district's current "
        "officer invitation code and makes a new one."
    ).format(district=escape(district))


def invite_changed_text(_: Gettext) -> str:
    return _(
        "The invitations have changed since you were asked: nothing was made. Please "
        "look again."
    )
