"""What staff and principals read about notices that went out: the lists of /notices, one
notice's progress for staff, the home screen's lines, and the answers to an acknowledgement."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from models.notices.acks import AckOutcome, NoticeStats, RecipientState
from models.notices.tables import Notice, NoticeRecipient
from models.outbox import Button, Undelivered
from texts.callbacks import (
    DraftAction,
    ListNotices,
    OpenNotice,
    RemindNotice,
    RetryNotice,
    ViewNotice,
)
from texts.delivery import CAUSE_HEADINGS, by_cause
from texts.i18n import Gettext, colon, language_of_gettext, paren, recipients
from texts.notices.compose import NAMES_LIMIT, Rows, button
from texts.when import show

HOME_NOTICES = 3
"""How many recent notices the home screen of a principal or deputy lists."""


def staff_list(
    notices: Sequence[Notice], counts: dict[int, tuple[int, int]], tz: tzinfo, _: Gettext
) -> tuple[str, Rows]:
    if not notices:
        return _("No notices have been sent yet. Send /notice to write one."), ()
    lines = [_("<b>Recent notices</b>")]
    rows: list[tuple[Button, ...]] = []
    for notice in notices:
        acked, total = counts.get(notice.id, (0, 0))
        state = (
            _("acknowledged {acked} of {total}").format(acked=acked, total=total)
            if notice.requires_ack
            else recipients(_, total)
        )
        lines.append(
            f"#{notice.id} · {show(notice.sent_at, tz, 'short', language_of_gettext(_))} · "
            f"{html.escape(notice.title)} · {state}"
        )
        rows.append((button(f"#{notice.id} {notice.title}", ViewNotice(notice.id)),))
    return "\n".join(lines), tuple(rows)


def _ack_state(notice: Notice, recipient: NoticeRecipient, _: Gettext) -> str:
    if not notice.requires_ack:
        return ""
    if recipient.acknowledged_at is not None:
        return " · " + _("✅ acknowledged")
    return " · " + _("⏳ please acknowledge")


def school_list(
    items: Sequence[tuple[Notice, NoticeRecipient]], tz: tzinfo, _: Gettext
) -> tuple[str, Rows]:
    """A principal's or deputy's recent notices, each with a button to open it again."""
    if not items:
        return _("You have no notices yet."), ()
    lines = [_("<b>Your recent notices</b>")]
    rows: list[tuple[Button, ...]] = []
    for notice, recipient in items:
        clip = " 📎" if notice.attachment_kind else ""
        lines.append(
            f"#{notice.id} · {show(notice.sent_at, tz, 'date', language_of_gettext(_))} · "
            f"{html.escape(notice.title)}{clip}{_ack_state(notice, recipient, _)}"
        )
        rows.append((button(_("Open #{id}").format(id=notice.id) + clip,
                            OpenNotice(notice.id)),))
    return "\n".join(lines), tuple(rows)


def _delivery_line(stats: NoticeStats, _: Gettext) -> str:
    return (
        _("Delivered: {delivered} of {total}").format(delivered=stats.delivered, total=stats.total)
        + (_(" · blocked the bot: {count}").format(count=stats.blocked) if stats.blocked else "")
        + (_(" · failed: {count}").format(count=stats.failed) if stats.failed else "")
        + (_(" · still to send: {count}").format(count=stats.waiting) if stats.waiting else "")
    )


def _not_acknowledged(states: Sequence[RecipientState], _: Gettext) -> list[str]:
    if not states:
        return []
    lines = [_("Not yet acknowledged ({count}):").format(count=len(states))]
    for state in states[:NAMES_LIMIT]:
        name = html.escape(state.person.name)
        if state.school:
            name = paren(_, name, html.escape(state.school.name))
        unreached = ""
        if state.delivery_status in ("blocked", "failed"):
            unreached = " ⚠️ " + _("not delivered")
        lines.append(f"• {name}{unreached}")
    if len(states) > NAMES_LIMIT:
        lines.append(_("… and {count} more").format(count=len(states) - NAMES_LIMIT))
    return lines


def _acknowledgements(
    notice: Notice, stats: NoticeStats, tz: tzinfo, _: Gettext
) -> tuple[list[str], list[tuple[Button, ...]]]:
    lines = [
        _("<b>Acknowledged: {acked} of {total}</b>").format(
            acked=stats.acknowledged, total=stats.total),
        _("By district:"),
        *("• " + colon(_, html.escape(d.name), f"{d.acknowledged}/{d.total}")
          for d in stats.by_district),
        *_not_acknowledged(stats.not_acknowledged, _),
    ]
    rows: list[tuple[Button, ...]] = []
    targets = [s for s in stats.not_acknowledged if s.delivery_status == "sent"]
    if targets:
        rows.append((button(
            _("🔔 Remind those who have not ({count})").format(count=len(targets)),
            RemindNotice(notice.id, notice.reminders_sent + 1),
        ),))
    if notice.auto_reminded_at is not None:
        lines.append(_("Automatic reminder sent {time}.").format(
            time=show(notice.auto_reminded_at, tz, "full", language_of_gettext(_))))
    elif notice.auto_reminder_due is not None:
        lines.append(_("Automatic reminder due {time}.").format(
            time=show(notice.auto_reminder_due, tz, "full", language_of_gettext(_))))
    if notice.reminders_sent:
        lines.append(_("Reminders sent by staff: {count}.").format(count=notice.reminders_sent))
    return lines, rows


def staff_view(
    notice: Notice, stats: NoticeStats, now: datetime, tz: tzinfo, _: Gettext,
    unreached: Sequence[Undelivered] = (),
) -> tuple[str, Rows]:
    """One notice for staff: delivery, acknowledgements by district, who has not, and the
    buttons to send again, remind and refresh."""
    sent = show(notice.sent_at, tz, "full", language_of_gettext(_), now)
    lines = [
        f"<b>#{notice.id} · {html.escape(notice.title)}</b>",
        _("Sent {time}").format(time=sent) if notice.sent_at <= now
        else _("Scheduled for {time}").format(time=sent),
        _delivery_line(stats, _),
        # Why, and what to do, next to the button that sends it again.
        *(_(CAUSE_HEADINGS[cause]).format(count=len(items))
          for cause, items in by_cause(list(unreached)).items()),
    ]
    if stats.in_doubt:
        lines.append(_(
            "{count} may have received it twice: their message was on its way when the bot "
            "restarted or lost its connection to Telegram."
        ).format(count=stats.in_doubt))
    rows: list[tuple[Button, ...]] = []
    if stats.failed or stats.blocked:
        rows.append((button(
            _("🔁 Send again to the {count} not reached").format(
                count=stats.failed + stats.blocked),
            RetryNotice(notice.id),
        ),))
    if notice.requires_ack:
        more_lines, more_rows = _acknowledgements(notice, stats, tz, _)
        lines += more_lines
        rows += more_rows
    rows.append((button(_("🔄 Refresh"), ViewNotice(notice.id, "r")),))
    return "\n".join(lines), tuple(rows)


@dataclass(frozen=True)
class HomeBlock:
    lines: list[str]
    # Rows of (label, callback data), as the home screen takes them.
    buttons: list[list[tuple[str, str]]]


def staff_home(latest: Notice | None, counts: tuple[int, int], _: Gettext) -> HomeBlock:
    lines = [_("<b>Notices</b>")]
    if latest is not None:
        acked, total = counts
        title = html.escape(latest.title)
        lines.append(
            _("Latest: #{id} {title}, acknowledged {acked} of {total}").format(
                id=latest.id, title=title, acked=acked, total=total)
            if latest.requires_ack
            else _("Latest: #{id} {title}").format(id=latest.id, title=title)
        )
    return HomeBlock(lines, [[(_("✍️ New notice"), DraftAction("start").pack()),
                              (_("📋 Notices"), ListNotices().pack())]])


def school_home(
    items: Sequence[tuple[Notice, NoticeRecipient]], tz: tzinfo, _: Gettext
) -> HomeBlock | None:
    if not items:
        return None
    waiting = sum(1 for notice, r in items if notice.requires_ack and r.acknowledged_at is None)
    lines = [
        _("<b>Notices</b>: {count} waiting for your acknowledgement").format(count=waiting)
        if waiting
        else _("<b>Notices</b>: all acknowledged")
    ]
    # The most recent ones, so the home screen says what the bureau sent lately.
    for notice, recipient in items[:HOME_NOTICES]:
        day = show(notice.sent_at, tz, "date", language_of_gettext(_))
        lines.append(
            f"• {day} {html.escape(notice.title)}{_ack_state(notice, recipient, _)}"
        )
    return HomeBlock(lines, [[(_("📋 Notices"), ListNotices().pack())]])


def ack_answer(
    outcome: AckOutcome, acknowledged_at: datetime | None, tz: tzinfo, _: Gettext,
    title: str = "",
) -> str:
    """The answer to an acknowledgement button, by what it recorded; it names the notice, as
    a principal may press the buttons of several."""
    if outcome is AckOutcome.NOT_RECIPIENT:
        return _("This notice was not addressed to you.")
    if outcome is AckOutcome.NOT_REQUIRED:
        return _("This notice does not need an acknowledgement.")
    assert acknowledged_at is not None
    language = language_of_gettext(_)
    if outcome is AckOutcome.ALREADY:
        return _("You already acknowledged “{title}” at {time}; nothing changed.").format(
            title=title, time=show(acknowledged_at, tz, "full", language))
    # Recorded just now, so in this year: no year to show.
    when = show(acknowledged_at, tz, "full", language, acknowledged_at)
    return _("Thank you: “{title}” acknowledged at {time}.").format(title=title, time=when)
