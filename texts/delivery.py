"""What the outbox tells the sender of a batch: progress while it runs, the report at the end,
and the answer to "send again"."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from models import outbox
from models.outbox import DeliveryBatch, Progress, Requeued
from texts.i18n import N_, Gettext, colon, gettext_for, paren, recipients

REPORT_LIST_LIMIT = 30

PROGRESS = N_("<b>{title}</b>\nSending: {sent} sent · {failed} failed · {left} left")
FINISHED = N_("<b>{title}</b>\nFinished: {sent} of {total} delivered.")


def progress_text(batch: DeliveryBatch, state: Progress) -> str:
    _ = gettext_for(batch.language)
    template = FINISHED if state.done else PROGRESS
    return _(template).format(
        title=escape(batch.title),
        sent=state.sent,
        failed=state.failed + state.blocked,
        left=state.left,
        total=state.total,
    )


def _listed(
    items: list[outbox.Undelivered], with_error: bool, _: Callable[[str], str]
) -> list[str]:
    lines = []
    for item in items[:REPORT_LIST_LIMIT]:
        who = escape(item.name or "?")
        if item.school:
            who = paren(_, who, escape(item.school))
        if with_error:
            who = colon(_, who, escape(item.error))
        lines.append(f"• {who}")
    if len(items) > REPORT_LIST_LIMIT:
        lines.append(_("… and {count} more").format(count=len(items) - REPORT_LIST_LIMIT))
    return lines


def report_text(batch: DeliveryBatch, state: Progress, problems: list[outbox.Undelivered]) -> str:
    _ = gettext_for(batch.language)
    lines = [
        _("<b>{title}</b>: finished.").format(title=escape(batch.title)),
        _("Delivered: {sent} of {total}.").format(sent=state.sent, total=state.total),
    ]
    blocked = [p for p in problems if p.status == outbox.Status.BLOCKED.value]
    failed = [p for p in problems if p.status == outbox.Status.FAILED.value]
    if blocked:
        lines.append("")
        lines.append(
            _("Blocked the bot ({count}), now marked unreachable:").format(count=len(blocked))
        )
        lines.extend(_listed(blocked, False, _))
    if failed:
        lines.append("")
        lines.append(_("Failed ({count}):").format(count=len(failed)))
        lines.extend(_listed(failed, True, _))
    if state.in_doubt:
        lines.append("")
        lines.append(
            _(
                "{recipients} may have received it twice: their message was on its "
                "way when the bot restarted or lost its connection to Telegram."
            ).format(recipients=recipients(_, state.in_doubt))
        )
    return "\n".join(lines)


def requeued_text(_: Gettext, again: Requeued) -> str:
    """What staff are told after "send again" (a notice's or a round's screen)."""
    if not again.total:
        return _("Nothing to send again: everyone was reached or is still in the queue.")
    if again.blocked:
        return _(
            "Sending again to {count}. {blocked} of them had blocked the bot: they get it "
            "only if they have unblocked it since."
        ).format(count=again.total, blocked=again.blocked)
    return _("Sending again to {count}.").format(count=again.total)
