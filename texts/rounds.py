"""What people are told about a collection round, written once for the chat, the
scheduler and the shell: the announcement to the schools, a new deadline, an early close;
for staff, who was told and that a schedule opened a round (`schedule_opened`); and why
an action on a round was refused.

`announcement` is the one "a round is open for your school": a round opened in chat or
from the shell, and the scheduler's opening slot of a round opened by a schedule, send
it alike. The scheduler sends one announcement per round opened (rarely more than one at
a tick) instead of a list of every report the school owes: an opening is about that
round, with its deadline, description and start button, and the school's other pending
reports have their own reminders (texts/reminders.py), which list them all (one due at
the same tick follows the announcement as a second message)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from config.settings import Settings
from models.forms import FormDef
from models.outbox import Button, OutMessage
from models.roster.phones import phones_for
from models.roster.tables import Person, School
from models.rounds import Round
from models.rounds.actions import Refusal, Refused
from models.rounds.announce import MessageFor, Opened, StaffMessageFor, Told
from models.rounds.periods import period_label
from texts.callbacks import OpenReport, ShowRound
from texts.contacts import with_phones
from texts.i18n import Gettext, gettext_for, language_of, ngettext_for, people, plural_for
from texts.when import show

Builder = Callable[[FormDef, Round, School, str, Settings], OutMessage]
"""A message about a round in one language; `_for_people` makes it the core's MessageFor."""


def _start_button(round_: Round, _: Gettext) -> tuple[tuple[Button, ...], ...]:
    # The report's own button (its kind is declared by the report's section).
    return ((Button(_("📝 Start the report"), callback_data=OpenReport(round_.id).pack()),),)


def _names(form: FormDef, round_: Round, lang: str, settings: Settings) -> dict[str, str]:
    """{bureau}, {form} and {period} of the messages about a round, escaped for HTML."""
    return {
        "bureau": escape(settings.bureau.name_in(lang)),
        "form": escape(form.title.get(lang)),
        "period": escape(period_label(round_.period, lang)),
    }


def _deadline(round_: Round, lang: str, settings: Settings) -> str:
    # The round's opening stands for "now": these are sent within moments of it or of a
    # change to it, and the year is shown only when the deadline falls in another one.
    return show(round_.deadline, settings.bureau.tz, "full", lang, round_.opened_at)


def announcement(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> OutMessage:
    """The message telling one school's contact that a round is open, in their language,
    with the button that starts the report."""
    _ = gettext_for(lang)
    lines = [
        "📋 "
        + _("{bureau} asks for a report: <b>{form}</b> ({period})").format(
            **_names(form, round_, lang, settings)
        ),
        _("School: {school}").format(school=escape(school.name)),
        _("Deadline: {time}").format(time=_deadline(round_, lang, settings)),
    ]
    if form.description:
        lines.append(f"<i>{escape(form.description.get(lang))}</i>")
    lines.append(_("Press the button to start; you can stop and come back at any time."))
    return OutMessage(text="\n".join(lines), keyboard=_start_button(round_, _))


def schedule_opened(
    form: FormDef, round_: Round, opened: Opened, lang: str, settings: Settings
) -> OutMessage:
    """Staff learn that a schedule opened a round: its deadline, how many schools it
    expects, who is told (or that the schedule sends no opening notice), and how many
    schools have nobody connected to the bot, with a button to the round."""
    _ = gettext_for(lang)
    ngettext = ngettext_for(lang)
    names = _names(form, round_, lang, settings)
    lines = [
        "🗓 " + _("A schedule opened <b>{form}</b> ({period}).").format(**names),
        _("Deadline: {time}").format(time=_deadline(round_, lang, settings)),
        ngettext(
            "{count} school is expected to report.",
            "{count} schools are expected to report.",
            opened.expected,
        ).format(count=opened.expected),
    ]
    if not opened.announced:
        lines.append(
            _("This schedule sends no opening notice: schools hear of it with the first reminder.")
        )
    elif opened.schools:
        lines.append(
            _("Their principals and deputies are told: {schools} ({people}).").format(
                schools=ngettext("{count} school", "{count} schools", opened.schools).format(
                    count=opened.schools
                ),
                people=ngettext("{count} person", "{count} people", opened.people).format(
                    count=opened.people
                ),
            )
        )
    if opened.unconnected:
        lines.append(
            ngettext(
                "{count} school has nobody connected to the bot yet: please phone it "
                "(/status lists it).",
                "{count} schools have nobody connected to the bot yet: please phone them "
                "(/status lists them).",
                opened.unconnected,
            ).format(count=opened.unconnected)
        )
    button = Button(_("📋 View the round"), callback_data=ShowRound(round_.id).pack())
    return OutMessage(text="\n".join(lines), keyboard=((button,),))


def extension_notice(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> OutMessage:
    """A school that has not submitted learns the new deadline."""
    _ = gettext_for(lang)
    lines = [
        "🕒 "
        + _("{bureau} has moved the deadline of <b>{form}</b> ({period}).").format(
            **_names(form, round_, lang, settings)
        ),
        _("School: {school}").format(school=escape(school.name)),
        _("New deadline: {time}").format(time=_deadline(round_, lang, settings)),
        _("Your school has not submitted it yet. Answers already given are kept."),
    ]
    return OutMessage(text="\n".join(lines), keyboard=_start_button(round_, _))


def closing_notice(
    form: FormDef, round_: Round, school: School, lang: str, settings: Settings
) -> OutMessage:
    """A school that has not submitted learns that the round was closed early."""
    _ = gettext_for(lang)
    lines = [
        "⏹ "
        + _("{bureau} has closed <b>{form}</b> ({period}) early.").format(
            **_names(form, round_, lang, settings)
        ),
        _("School: {school}").format(school=escape(school.name)),
        _(
            "Your school had not submitted it, and reports can no longer be submitted. "
            "If your school still needs to, please contact the bureau."
        ),
    ]
    return OutMessage(text="\n".join(lines))


def _for_people(builder: Builder, settings: Settings) -> MessageFor:
    def message_for(form: FormDef, round_: Round, school: School, person: Person) -> OutMessage:
        language = language_of(person, settings.bureau.default_language)
        return builder(form, round_, school, language, settings)

    return message_for


def announcement_for(settings: Settings) -> MessageFor:
    return _for_people(announcement, settings)


def schedule_opened_for(settings: Settings) -> StaffMessageFor:
    def message_for(form: FormDef, round_: Round, opened: Opened, person: Person) -> OutMessage:
        language = language_of(person, settings.bureau.default_language)
        return schedule_opened(form, round_, opened, language, settings)

    return message_for


def extension_for(settings: Settings) -> MessageFor:
    return _for_people(extension_notice, settings)


def closing_for(settings: Settings) -> MessageFor:
    return _for_people(closing_notice, settings)


def batch_title(language: str) -> Callable[[FormDef, Round], str]:
    """The title of an announcement's deliveries, for the staff member who opened it."""

    def title(form: FormDef, round_: Round) -> str:
        _ = gettext_for(language)
        return _("Round #{id}: {form} · {period}").format(
            id=round_.id,
            form=form.title.get(language),
            period=period_label(round_.period, language),
        )

    return title


def told_text(told: Told, _: Gettext) -> str:
    """For staff: who was told of an extension or closing."""
    if not told.people:
        return _("No school that has not submitted has anyone connected, so nobody was told.")
    ngettext = plural_for(_)
    return ngettext(
        "Telling the {schools} school that has not submitted ({people}).",
        "Telling the {schools} schools that have not submitted ({people}).",
        told.schools,
    ).format(people=people(_, told.people), schools=told.schools)


def unconnected_text(schools: Sequence[School], _: Gettext, limit: int = 10) -> str:
    lines = [
        _("Nobody is connected yet at {count} of the schools, so they were not told:").format(
            count=len(schools)
        )
    ]
    # Staff's screen (the round wizard): the roster's numbers, to call them instead.
    lines += [
        with_phones(_, f"• {escape(s.code)} {escape(s.name)}", phones_for(s, []))
        for s in schools[:limit]
    ]
    if len(schools) > limit:
        lines.append(_("… and {count} more").format(count=len(schools) - limit))
    return "\n".join(lines)


# --- refusals --------------------------------------------------------------------------------


def refusal_text(refused: Refused, _: Gettext) -> str:
    """Why an action on a round was refused, for staff in chat."""
    why = refused.why
    if why is Refusal.NO_ROUND:
        return _("That round no longer exists.")
    if why is Refusal.ALREADY_CLOSED:
        return _("This round is already closed.")
    if why is Refusal.NO_SCHOOL:
        return "❌ " + _("No school has that code or name. Please type it again.")
    if why is Refusal.NOT_EXPECTED:
        return "❌ " + _("{school} is not expected in this round.").format(
            school=escape(refused.school)
        )
    return "❌ " + _("The round was not opened: {reason}").format(reason=escape(refused.detail))


def refusal_line(refused: Refused) -> str:
    """The same refusal for `huibao rounds` (the shell speaks English, with the core's
    own words where it has them)."""
    if refused.why is Refusal.NO_ROUND:
        return f"no round {refused.round_id}"
    if refused.why is Refusal.NO_SCHOOL:
        return f"no school with code {refused.school!r}"
    return refused.detail


def invalid_button(_: Gettext) -> str:
    """A button of /round that no longer fits where the set-up or the round is."""
    return _("This button is no longer valid.")


def setup_ended(_: Gettext) -> str:
    return _("This button is no longer valid: the set-up has ended. Send /round to start again.")


def no_school_matches(_: Gettext) -> str:
    return _("No active school matches; tick fewer districts or stages.")


# --- staff's confirmations (issue 11): what an action will do, before it does it ---------

Ngettext = Callable[[str, str, int], str]


def _who_is_told(told: Told, _: Gettext, ngettext: Ngettext) -> str:
    """Who a message about the round would reach: the schools that have not submitted."""
    if not told.people:
        return _("No school that has not submitted has anyone connected: nobody will be told.")
    text = ngettext(
        "The {schools} school that has not submitted will be told ({people}).",
        "The {schools} schools that have not submitted will be told ({people}).",
        told.schools,
    ).format(
        schools=told.schools,
        people=ngettext("{count} person", "{count} people", told.people).format(
            count=told.people
        ),
    )
    if told.unconnected:
        text += "\n" + ngettext(
            "{count} more school has nobody connected and will not hear of it.",
            "{count} more schools have nobody connected and will not hear of it.",
            len(told.unconnected),
        ).format(count=len(told.unconnected))
    return text


def deadline_question(
    was: str, to: str, told: Told, _: Gettext, ngettext: Ngettext
) -> str:
    """Before a deadline moves (+1/+3/+7 days, or a typed one)."""
    head = _("The deadline will move from {was} to {to}.").format(was=was, to=to)
    return "\n".join([
        "<b>" + _("Change the deadline?") + "</b>", head, _who_is_told(told, _, ngettext)
    ])


def close_question(told: Told, _: Gettext, ngettext: Ngettext) -> str:
    """Before a round closes early."""
    return "\n".join([
        _("Close this round now? Schools can no longer submit or revise."),
        _who_is_told(told, _, ngettext),
    ])


def retry_question(count: int, _: Gettext, ngettext: Ngettext) -> str:
    """Before the messages of a round that did not arrive are sent again."""
    return ngettext(
        "Send again the {count} message of this round that did not reach its recipient?",
        "Send again the {count} messages of this round that did not reach their recipients?",
        count,
    ).format(count=count)


def deadline_moved_meanwhile(now_deadline: str, _: Gettext) -> str:
    """A confirmation whose deadline is no longer the round's (pressed twice, or stale)."""
    return _(
        "The deadline has changed since this was asked (it is now {time}): nothing was "
        "changed this time."
    ).format(time=now_deadline)


def retry_changed(_: Gettext) -> str:
    return _(
        "What did not arrive has changed since this was asked: nothing was sent. Please look "
        "at the round again."
    )
