"""What reminders, escalations and summaries say, in each person's language.

The reminder is written once (`reminder_message`): the scheduler's slots and the "remind
now" button of /status both send it, so a school hears the same words whichever chased
it; past the deadline it says the report is overdue. "A round is open for your school"
is texts.rounds.announcement, also for the scheduler's opening slot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from html import escape

from models.followup.reminders import PendingReport, SlotKind
from models.outbox import Button, OutMessage
from models.roster.phones import Callee
from models.rounds.periods import period_label
from texts.callbacks import OpenReport
from texts.contacts import callee_line, fitting
from texts.i18n import Gettext, gettext_for, ngettext_for
from texts.when import show

MAX_TEXT = 4096
MAX_LISTED_SCHOOLS = 60
LISTED_BUDGET = 1700


def start_callback(round_id: int) -> str:
    """The button that opens the school's report of a round."""
    return OpenReport(round_id).pack()


def when(moment: datetime, tz: tzinfo, language: str, now: datetime | None = None) -> str:
    return show(moment, tz, "full", language, now)


def title_of(titles: Mapping[str, str], language: str) -> str:
    return titles["zh"] if language.startswith("zh") else titles["en"]


def report_name(titles: Mapping[str, str], period: str, language: str) -> str:
    return f"{title_of(titles, language)} · {period_label(period, language)}"


def _button_name(
    report: PendingReport,
    named: Counter[str],
    titles: Mapping[int, Mapping[str, str]],
    language: str,
) -> str:
    title = title_of(titles[report.round.id], language)
    if named[title] > 1:
        return report_name(titles[report.round.id], report.round.period, language)
    return title


def reminder_message(
    *,
    language: str,
    kinds: set[SlotKind],
    reports: Sequence[PendingReport],
    titles: Mapping[int, Mapping[str, str]],
    tz: tzinfo,
    now: datetime,
) -> OutMessage:
    """One message listing all of a school contact's pending reports, each with a button
    that starts it; worded after the most urgent slot it carries (overdue, or not yet)."""
    _ = gettext_for(language)
    if SlotKind.OVERDUE in kinds:
        header = _("⚠️ The deadline has passed and your school's report is still missing:")
    else:
        header = _("⏰ Reminder: your school still has reports to submit:")
    lines = [header, ""]
    keyboard: list[tuple[Button, ...]] = []
    # A button names the form only (the line above it says the rest), unless two periods
    # of one form are pending: then the period tells them apart.
    named = Counter(title_of(titles[r.round.id], language) for r in reports)
    for report in reports:
        name = report_name(titles[report.round.id], report.round.period, language)
        deadline = when(report.round.deadline, tz, language, now)
        if not report.open_for_entry:
            state = _("entry is closed; please contact the bureau")
        elif now > report.round.deadline:
            state = _("overdue, please submit now")
        elif report.started:
            state = _("started, not yet submitted")
        else:
            state = _("not started")
        lines.append(
            _("• <b>{report}</b>\n   deadline {deadline}: {state}").format(
                report=escape(name), deadline=deadline, state=state
            )
        )
        if report.open_for_entry:
            keyboard.append(
                (
                    Button(
                        _("Fill in: {report}").format(
                            report=_button_name(report, named, titles, language)
                        ),
                        callback_data=start_callback(report.round.id),
                    ),
                )
            )
    if keyboard:
        lines += ["", _("Tap a report to fill it in. Your answers are saved as you go.")]
    text = "\n".join(lines)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return OutMessage(text=text, keyboard=tuple(keyboard))


def remind_now_message(
    *,
    language: str,
    report: PendingReport,
    titles: Mapping[int, Mapping[str, str]],
    tz: tzinfo,
    now: datetime,
) -> OutMessage:
    """Staff tapped "remind now" on /status: the scheduled reminder of this one report,
    as the slot of this moment would word it (overdue once the deadline has passed)."""
    kinds = {SlotKind.OVERDUE} if now > report.round.deadline else {SlotKind.BEFORE}
    return reminder_message(
        language=language, kinds=kinds, reports=(report,), titles=titles, tz=tz, now=now
    )


def escalation_message(
    *,
    language: str,
    district: str,
    titles: Mapping[str, str],
    period: str,
    deadline: datetime,
    schools: Sequence[str | Callee],
    tz: tzinfo,
    unreached: Sequence[str | Callee] = (),
) -> OutMessage:
    """To a district officer: the schools of their district that missed a deadline; those
    whose principal or deputy was sent the overdue notice (`schools`), and apart from them
    those where nobody connected could be told (`unreached`): the ones to phone."""
    _ = gettext_for(language)
    ngettext = ngettext_for(language)
    header = _(
        "⚠️ Not submitted in {district}: <b>{report}</b> (deadline {deadline}). Schools ({count}):"
    ).format(
        count=len(schools) + len(unreached),
        district=escape(district),
        report=escape(report_name(titles, period, language)),
        deadline=when(deadline, tz, language),
    )
    lines = [header]
    if schools:
        lines += ["", *_listed(schools, _)]
        lines.append(ngettext(
            "Its principal or deputy has been sent an overdue notice.",
            "Their principals or deputies have been sent an overdue notice.",
            len(schools),
        ))
    if unreached:
        lines += ["", ngettext(
            "At {count} school nobody is connected to the bot (or they blocked it), so "
            "nobody there was told. Please phone it:",
            "At {count} schools nobody is connected to the bot (or they blocked it), so "
            "nobody there was told. Please phone them:",
            len(unreached),
        ).format(count=len(unreached))]
        lines += _listed(unreached, _)
    return OutMessage(text="\n".join(lines))


def _listed(names: Sequence[str | Callee], _: Gettext) -> list[str]:
    """'• name', with the school's numbers when the caller read them (a district
    officer's list of their own schools)."""
    lines = [callee_line(_, name) for name in names[:MAX_LISTED_SCHOOLS]]
    # Two lists share one message: each keeps to LISTED_BUDGET characters.
    lines = lines[: fitting(lines, LISTED_BUDGET)]
    if len(names) > len(lines):
        lines.append(_("… and {count} more").format(count=len(names) - len(lines)))
    return lines


def summary_header(
    *,
    language: str,
    at_deadline: bool,
    titles: Mapping[str, str],
    period: str,
    deadline: datetime,
    now: datetime,
    tz: tzinfo,
    district: str | None,
) -> str:
    _ = gettext_for(language)
    report = escape(report_name(titles, period, language))
    if at_deadline:
        header = _("📊 The deadline of <b>{report}</b> has come. Summary as at {now}:").format(
            report=report, now=when(now, tz, language, now)
        )
    else:
        header = _("📊 <b>{report}</b>, deadline {deadline}. Summary as at {now}:").format(
            report=report,
            deadline=when(deadline, tz, language, now),
            now=when(now, tz, language, now),
        )
    if district is not None:
        header += "\n" + _("District: {district}").format(district=escape(district))
    return header


def summary_messages(
    *,
    language: str,
    header: str,
    text_html: str,
    chart_ids: Sequence[int],
    workbook_id: int | None,
    filename: str,
) -> tuple[OutMessage, ...]:
    """The summary as Telegram messages: text, the charts, then the workbook."""
    _ = gettext_for(language)
    body = f"{header}\n\n{text_html}"
    messages: list[OutMessage] = []
    if len(body) <= MAX_TEXT:
        messages.append(OutMessage(text=body))
    else:
        messages += [OutMessage(text=header), OutMessage(text=text_html[:MAX_TEXT])]
    messages += [
        OutMessage(kind="photo", file_blob_id=chart, file_name=f"chart-{n + 1}.png")
        for n, chart in enumerate(chart_ids)
    ]
    if workbook_id is not None:
        messages.append(
            OutMessage(
                kind="document",
                text=_("The workbook for forwarding or further work."),
                file_blob_id=workbook_id,
                file_name=filename,
            )
        )
    return tuple(messages)
