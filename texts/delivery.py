"""What the outbox tells the sender of a batch: progress while it runs, the report at the end,
and the answer to "send again"."""

from __future__ import annotations

from html import escape

from models import outbox
from models.outbox import DeliveryBatch, Progress, Requeued
from models.outbox.reports import Cause
from texts.i18n import N_, Gettext, gettext_for, ngettext_for, paren, recipients

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


# What happened and what staff can do, per cause (models/outbox/reports.py); the raw
# error stays in the log (scheduler/delivery.py) and the command line's --verbose.
CAUSE_HEADINGS = {
    Cause.BLOCKED: N_(
        "Blocked the bot ({count}): ask them to open the bot and press “Start” again, then "
        "send it again."
    ),
    Cause.NO_CHAT: N_(
        "Not found on Telegram ({count}): they never opened the bot, or their account is "
        "gone. Send them a new invitation."
    ),
    Cause.NETWORK: N_(
        "Not delivered because Telegram could not be reached ({count}); the bot kept "
        "retrying, then gave up. Send it again later."
    ),
    Cause.REFUSED: N_(
        "Refused by Telegram ({count}): tell the bot's administrator; the details are in "
        "the bot's log."
    ),
}


def who_text(item: outbox.Undelivered, _: Gettext) -> str:
    if not item.school:
        return item.name or "?"
    return paren(_, item.name or "?", item.school)


def tries_text(attempts: int, language: str) -> str:
    return ngettext_for(language)(
        "tried {count} time", "tried {count} times", attempts
    ).format(count=attempts)


def _listed(items: list[outbox.Undelivered], language: str) -> list[str]:
    _ = gettext_for(language)
    lines = []
    for item in items[:REPORT_LIST_LIMIT]:
        line = "• " + escape(who_text(item, _))
        if item.cause is Cause.NETWORK and item.attempts:
            line += " · " + tries_text(item.attempts, language)
        lines.append(line)
    if len(items) > REPORT_LIST_LIMIT:
        lines.append(_("… and {count} more").format(count=len(items) - REPORT_LIST_LIMIT))
    return lines


def by_cause(problems: list[outbox.Undelivered]) -> dict[Cause, list[outbox.Undelivered]]:
    """The problems grouped by cause, in the order CAUSE_HEADINGS lists them."""
    groups = {cause: [p for p in problems if p.cause is cause] for cause in CAUSE_HEADINGS}
    return {cause: items for cause, items in groups.items() if items}


def problem_lines(problems: list[outbox.Undelivered], language: str) -> list[str]:
    """Whom a batch did not reach, by cause, each cause with what to do about it."""
    _ = gettext_for(language)
    lines: list[str] = []
    for cause, items in by_cause(problems).items():
        lines += ["", _(CAUSE_HEADINGS[cause]).format(count=len(items))]
        lines += _listed(items, language)
    return lines


def report_text(batch: DeliveryBatch, state: Progress, problems: list[outbox.Undelivered]) -> str:
    _ = gettext_for(batch.language)
    lines = [
        _("<b>{title}</b>: finished.").format(title=escape(batch.title)),
        _("Delivered: {sent} of {total}.").format(sent=state.sent, total=state.total),
        *problem_lines(problems, batch.language),
    ]
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
