"""What district review says: to the officers (a report arrived, the queue, one report
under review, the reminder), to the school (approved, returned with a comment), and the
bureau's words for a review state in /status, summaries and the workbook."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape

from models.review.rules import QueueItem
from models.review.tables import ReviewStatus
from texts.i18n import N_, Gettext, paren, plural_for
from texts.when import show

COMMENT_LENGTH = 500
"""What a return's comment keeps: a few lines the school reads at the top of its report."""

STATUS_LABELS = {
    ReviewStatus.AWAITING: N_("awaiting review"),
    ReviewStatus.APPROVED: N_("approved"),
    ReviewStatus.RETURNED: N_("returned"),
}


def status_label(_: Gettext, status: ReviewStatus | None) -> str:
    """The review state of a school's report; "" when it has none (not submitted, or a
    round without review)."""
    return _(STATUS_LABELS[status]) if status is not None else ""


@dataclass(frozen=True, slots=True)
class Arrived:
    """A submission that waits for review, as its reviewers are told of it."""

    school: str
    district: str
    form: str
    period: str
    revision: int
    by_bureau: bool
    """The district has no officer: the bureau's staff review it."""


def arrived(_: Gettext, facts: Arrived) -> str:
    text = _("📝 {school} submitted {form} for review, revision {number}.").format(
        school=escape(paren(_, facts.school, facts.district)), form=escape(
            paren(_, facts.form, facts.period)), number=facts.revision)
    if facts.by_bureau:
        text += "\n" + _("{district} has no district officer: the bureau reviews it.").format(
            district=escape(facts.district))
    return text


def queue_screen(_: Gettext, items: Sequence[QueueItem]) -> str:
    lines = ["<b>" + _("Reports to review") + "</b>"]
    if not items:
        lines.append(_("Nothing waits for your review."))
    else:
        lines.append(plural_for(_)(
            "{count} report waits for your review, oldest first.",
            "{count} reports wait for your review, oldest first.", len(items),
        ).format(count=len(items)))
    return "\n".join(lines)


def queue_button(item: QueueItem, form: str, period: str) -> str:
    return f"🟡 {item.school} · {form} {period}"


@dataclass(frozen=True, slots=True)
class CaseView:
    school: str
    district: str
    form: str
    period: str
    revision: int
    received: datetime
    warnings: Sequence[tuple[str, str]]
    """The warnings the school confirmed, with its explanation."""
    returned_before: str
    """The comment of the previous return, if the report comes back after one."""
    figures: Sequence[str]


def case_text(_: Gettext, view: CaseView, tz: tzinfo, language: str) -> str:
    lines = [
        "<b>" + _("Review: {school}").format(
            school=escape(paren(_, view.school, view.district))) + "</b>",
        _("{form}, revision {number}, received {time}").format(
            form=escape(paren(_, view.form, view.period)), number=view.revision,
            time=show(view.received, tz, "full", language)),
    ]
    if view.returned_before:
        lines.append(_("You returned it before with this comment: {comment}").format(
            comment=escape(view.returned_before)))
    lines.append("")
    if view.warnings:
        lines.append("<b>" + _("Warnings the school confirmed") + "</b>")
        lines.extend(_warning(_, message, comment) for message, comment in view.warnings)
    else:
        lines.append(_("No warnings."))
    lines.append("")
    lines.extend(view.figures)
    return "\n".join(lines)


def _warning(_: Gettext, message: str, comment: str) -> str:
    return "⚠️ " + _("{warning} The school explains: {comment}").format(
        warning=escape(message), comment=escape(comment))


def return_prompt(_: Gettext, school: str) -> str:
    return _(
        "Type your comment for {school}: what must be corrected. The school reads it at the "
        "top of its report."
    ).format(school=escape(school))


def bad_comment(_: Gettext) -> str:
    return _("Please type a comment of at most {count} characters.").format(
        count=COMMENT_LENGTH)


def approved(_: Gettext, school: str) -> str:
    return _("✅ Approved: {school}. The school has been told.").format(school=escape(school))


def returned(_: Gettext, school: str) -> str:
    return _(
        "↩️ Returned to {school} with your comment. When the school submits again, the "
        "report waits for your review again."
    ).format(school=escape(school))


def decided_already(_: Gettext) -> str:
    return _("This report has already been decided, or a newer revision has arrived. "
             "Send /review for what waits now.")


def cancelled(_: Gettext) -> str:
    return _("Cancelled. Nothing was changed.")


def approved_for_school(_: Gettext, form: str, period: str, number: int) -> str:
    return _("✅ The district approved your report {form}, revision {number}.").format(
        form=escape(paren(_, form, period)), number=number)


def returned_for_school(
    _: Gettext, form: str, period: str, comment: str, until: datetime | None, tz: tzinfo,
    language: str,
) -> str:
    text = _("↩️ The district returned your report {form} for correction:\n{comment}").format(
        form=escape(paren(_, form, period)), comment=escape(comment))
    if until is not None:
        text += "\n\n" + _("You may revise it and submit it again until {time}.").format(
            time=show(until, tz, "full", language))
    return text


def returned_banner(_: Gettext, comment: str) -> str:
    """At the top of the school's report while a return is unanswered."""
    return "↩️ " + _("Returned by the district: {comment}").format(comment=escape(comment))


def reminder(_: Gettext, count: int, hours: int) -> str:
    return plural_for(_)(
        "⏰ {count} report has waited more than {hours} hours for your review.",
        "⏰ {count} reports have waited more than {hours} hours for your review.", count,
    ).format(count=count, hours=hours) + "\n" + _("Send /review to read and decide.")


def round_review_lines(_: Gettext, without_officer: Iterable[str]) -> list[str]:
    """On the round's screen: the round is reviewed, and by whom where no officer is."""
    lines = [_("District review: each submission waits for the district officers.")]
    missing = list(without_officer)
    if missing:
        lines.append(_("No district officer in {districts}: the bureau approves their "
                       "schools directly (/review).").format(
            districts=escape(_(", ").join(missing))))
    return lines


def review_toggle(_: Gettext, on: bool) -> str:
    return _("District review: on") if on else _("District review: off")


def district_line(_: Gettext, district: str, counts: dict[ReviewStatus, int]) -> str:
    return _("{district}: {approved} approved, {awaiting} awaiting review, "
             "{returned} returned").format(
        district=escape(district), approved=counts.get(ReviewStatus.APPROVED, 0),
        awaiting=counts.get(ReviewStatus.AWAITING, 0),
        returned=counts.get(ReviewStatus.RETURNED, 0))


def review_section(_: Gettext, rows: Sequence[tuple[str, dict[ReviewStatus, int]]]) -> str:
    """The summary's and /status's district review lines, a district a line."""
    return "\n".join(["<b>" + _("District review") + "</b>",
                      *(district_line(_, district, counts) for district, counts in rows)])


def school_lines(_: Gettext, states: Sequence[tuple[str, ReviewStatus]]) -> str:
    """A district's schools and where their reports stand in review."""
    lines = ["<b>" + _("District review") + "</b>"]
    lines.extend(_("{school}: {state}").format(school=escape(name), state=status_label(_, state))
                 for name, state in states)
    if not states:
        lines.append(_("No report has been submitted for review yet."))
    return "\n".join(lines)
