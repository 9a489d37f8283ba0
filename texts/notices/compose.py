"""What staff read while composing a notice: each step's question and buttons, the preview's
summary, and why a button, an input or the sending itself is refused (in chat and on the
command line, from the same refusals of models/notices/)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.notices.audiences import Audience, AudienceKind
from models.notices.drafts import (
    STEP_ACK,
    STEP_ATTACHMENT,
    STEP_AUDIENCE,
    STEP_DISTRICTS,
    STEP_SCHOOLS,
    STEP_STAGES,
    STEP_TEXT,
    STEP_TIME,
    STEP_TITLE,
    STEP_WHEN,
    Outcome,
)
from models.notices.sending import Refusal, Refused
from models.notices.tables import Notice, NoticeDraft
from models.notices.titles import TITLE_MAX, derived_title
from models.outbox import Button
from models.roster.tables import District, School
from texts.callbacks import (
    Callback,
    ChooseAck,
    ChooseAudience,
    ChooseWhen,
    DistrictsDone,
    DraftAction,
    EditPart,
    NoticeDistrictTick,
    NoticeStageTick,
    OpenEdit,
    SendDraft,
    StagesDone,
)
from texts.i18n import Gettext, people, recipients, schools
from texts.labels import STAGE_LABELS, stage_label
from texts.notices.messages import text_limit

# --- what staff read while composing ---------------------------------------------------------

Rows = tuple[tuple[Button, ...], ...]
NAMES_LIMIT = 40


def button(text: str, data: Callback) -> Button:
    return Button(text, callback_data=data.pack())


def stale_text(_: Gettext) -> str:
    return _("This button is no longer valid. Send /notice or /notices to start again.")


def outdated_text(_: Gettext) -> str:
    return _("This preview is out of date; use the newest one.")


def too_long_text(length: int, limit: int, _: Gettext) -> str:
    return _(
        "Telegram allows at most 4,096 characters in one message. With the bureau's heading "
        "and the acknowledgement line, the notice text can have {limit} characters; yours "
        "has {length}. Please shorten it by {excess} and send it again, or put the long part "
        "in a document and attach that in the next step."
    ).format(limit=limit, length=length, excess=length - limit)


def title_too_long_text(length: int, limit: int, _: Gettext) -> str:
    return _(
        "A title can have at most {limit} characters; yours has {length}. Please type a "
        "shorter one: the full wording belongs in the text of the notice."
    ).format(limit=limit, length=length)


def school_list(schools: Sequence[School], _: Gettext) -> str:
    shown = [f"{html.escape(s.code)} {html.escape(s.name)}" for s in schools[:NAMES_LIMIT]]
    if len(schools) > NAMES_LIMIT:
        shown.append(_("… and {count} more").format(count=len(schools) - NAMES_LIMIT))
    return "\n".join("• " + line for line in shown)


def audience_text(audience: Audience, district_names: Sequence[str], _: Gettext) -> str:
    if audience.kind is AudienceKind.ALL:
        return _("all schools")
    if audience.kind is AudienceKind.DISTRICTS:
        names = "、".join(sorted(district_names))
        return _("districts: {names}").format(names=html.escape(names))
    if audience.kind is AudienceKind.STAGES:
        labels = [stage_label(str(v), _) for v in audience.values]
        return _("stages: {names}").format(names="、".join(labels))
    return _("chosen schools: {codes}").format(
        codes=html.escape(" ".join(str(v) for v in audience.values))
    )


def resume_offer(draft: NoticeDraft, _: Gettext) -> tuple[str, Rows]:
    rows = (
        (button(_("Continue it"), DraftAction("resume")), button(_("Start over"),
                                                                  DraftAction("new"))),
        (button(_("Cancel"), DraftAction("cancel")),),
    )
    title = html.escape(draft.title or derived_title(draft.text or ""))
    return _("You have an unfinished notice: “{title}”.").format(title=title), rows


def _cancel(_: Gettext) -> tuple[Button, ...]:
    return (button(_("Cancel"), DraftAction("cancel")),)


def _ticks(items: Sequence[tuple[str, Callback, bool]]) -> list[tuple[Button, ...]]:
    """Tick boxes, two to a row."""
    boxes = [button(("☑ " if on else "☐ ") + label, data) for label, data, on in items]
    return [tuple(boxes[i : i + 2]) for i in range(0, len(boxes), 2)]


@dataclass(frozen=True)
class PromptFacts:
    """What the composer's questions need to know besides the draft."""

    bureau: str
    zone: str
    tomorrow: str  # tomorrow's date in bureau time, for the example of a typed time
    districts: Sequence[District] = ()


def _prompt_title(_facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _(
            "<b>New notice</b> · step 1 of 6\n\nType the title of the notice (at most "
            "{max} characters), for example: Teacher training returns due 30 November. "
            "Lists, reminders and delivery reports call the notice by its title."
        ).format(max=TITLE_MAX),
        (_cancel(_),),
    )


def _prompt_text(facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _(
            "Step 2 of 6 · Send the text of the notice as one message (up to {limit} "
            "characters; bold, italics and links are kept)."
        ).format(limit=text_limit(facts.bureau)),
        (_cancel(_),),
    )


def _prompt_attachment(_facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _(
            "Step 3 of 6 · Send a document or a photo to attach to the notice, or tap "
            "“No attachment”."
        ),
        ((button(_("No attachment"), DraftAction("noatt")),), _cancel(_)),
    )


def _prompt_audience(_facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _("Step 4 of 6 · Who should receive it?"),
        (
            (button(_("All schools"), ChooseAudience("all")),),
            (button(_("By district"), ChooseAudience("d")),
             button(_("By stage"), ChooseAudience("s"))),
            (button(_("Type school codes"), ChooseAudience("c")),),
            _cancel(_),
        ),
    )


def _prompt_schools(_facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _(
            "Step 4 of 6 · Type the codes of the schools, separated by spaces or commas "
            "(for example: S00001 S00002)."
        ),
        ((button(_("Back"), ChooseAudience()),), _cancel(_)),
    )


def _prompt_ack(_facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _("Step 5 of 6 · Must recipients acknowledge it (tap “Acknowledge”)?"),
        ((button(_("Yes, ask for acknowledgement"), ChooseAck(1)),),
         (button(_("No"), ChooseAck(0)),), _cancel(_)),
    )


def _prompt_when(_facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _("Step 6 of 6 · When should it go out?"),
        ((button(_("Send now"), ChooseWhen("now")), button(_("At a time…"), ChooseWhen("at"))),
         _cancel(_)),
    )


def _prompt_time(facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    return (
        _("Type the date and time ({zone} time), for example: {example} 09:00").format(
            zone=facts.zone, example=facts.tomorrow
        ),
        ((button(_("Send now instead"), ChooseWhen("now")),), _cancel(_)),
    )


_PROMPTS = {
    STEP_TITLE: _prompt_title,
    STEP_TEXT: _prompt_text,
    STEP_ATTACHMENT: _prompt_attachment,
    STEP_AUDIENCE: _prompt_audience,
    STEP_SCHOOLS: _prompt_schools,
    STEP_ACK: _prompt_ack,
    STEP_WHEN: _prompt_when,
    STEP_TIME: _prompt_time,
}


def prompt(draft: NoticeDraft, facts: PromptFacts, _: Gettext) -> tuple[str, Rows]:
    """The question for the draft's current step, with its buttons."""
    if draft.step == STEP_DISTRICTS:
        chosen = {int(v) for v in draft.selection}
        items = [(d.name, NoticeDistrictTick(d.id), d.id in chosen) for d in facts.districts]
        rows = [*_ticks(items),
                (button(_("Done"), DistrictsDone()), button(_("Back"), ChooseAudience()))]
        return _("Step 4 of 6 · Tick the districts, then tap “Done”."), tuple(rows)
    if draft.step == STEP_STAGES:
        chosen_stages = {str(v) for v in draft.selection}
        stage_items = [(_(label), NoticeStageTick(code), code in chosen_stages)
                       for code, label in STAGE_LABELS.items()]
        rows = [*_ticks(stage_items),
                (button(_("Done"), StagesDone()), button(_("Back"), ChooseAudience()))]
        return _("Step 4 of 6 · Tick the school stages, then tap “Done”."), tuple(rows)
    ask = _PROMPTS.get(draft.step)
    return ask(facts, _) if ask is not None else ("", ())


def preview_keyboard(version: int, _: Gettext, *, sendable: bool = True) -> Rows:
    send = ((button(_("Send"), SendDraft(version)),),) if sendable else ()
    return (*send, (button(_("Edit"), OpenEdit(version)), button(_("Cancel"),
                                                                   DraftAction("cancel"))))


def edit_keyboard(v: int, _: Gettext) -> Rows:
    return (
        (button(_("Title"), EditPart("title", v)), button(_("Text"), EditPart("text", v))),
        (button(_("Attachment"), EditPart("att", v)), button(_("Audience"), EditPart("aud", v))),
        (button(_("Acknowledgement"), EditPart("ack", v)),
         button(_("Send time"), EditPart("when", v))),
        (button(_("Back"), EditPart("back", v)),),
    )


@dataclass(frozen=True)
class PreviewFacts:
    title: str
    audience: str  # audience_text
    people: int
    schools: int
    excluded: Sequence[School]
    requires_ack: bool
    scheduled: str | None  # bureau time, when scheduled


def preview_summary(facts: PreviewFacts, version: int, _: Gettext) -> tuple[str, Rows]:
    """The message under the preview: who gets it, when, and the buttons to send or edit."""
    lines = [
        _("<b>Preview</b> ↑ This is exactly what recipients will see (the heading and "
          "buttons in each recipient's own language)."),
        "",
        _("Title: {title}").format(title=html.escape(facts.title)),
        _("Audience: {audience}").format(audience=facts.audience),
        _("Recipients: {people} at {schools}").format(
            people=people(_, facts.people), schools=schools(_, facts.schools)
        ),
    ]
    if facts.excluded:
        lines.append(_("Left out, nobody connected there yet ({count}):").format(
            count=len(facts.excluded)))
        lines.append(school_list(facts.excluded, _))
    lines.append(
        _("Acknowledgement: required") if facts.requires_ack else
        _("Acknowledgement: not required")
    )
    if facts.scheduled is not None:
        lines.append(_("Sending: at {time}").format(time=facts.scheduled))
    else:
        lines.append(_("Sending: as soon as you tap “Send”"))
    if not facts.people:
        lines += ["", _("Nobody would receive this notice: choose another audience.")]
    return "\n".join(lines), preview_keyboard(version, _, sendable=bool(facts.people))


def progress_text(title: str, total: int, scheduled: str | None, _: Gettext) -> str:
    """The preview's summary message once sent: it becomes the live progress message."""
    if scheduled is not None:
        return _(
            "<b>{title}</b>\nScheduled for {time}: {recipients}. This message will "
            "show the progress then."
        ).format(title=html.escape(title), time=scheduled, recipients=recipients(_, total))
    return _("<b>{title}</b>\nSending to {recipients}…").format(
        title=html.escape(title), recipients=recipients(_, total)
    )


def notice_title(_: Gettext) -> Callable[[Notice], str]:
    """The title of a notice's delivery batch (the sender's progress message)."""
    return lambda notice: _("Notice #{id}: {title}").format(
        id=notice.id, title=notice.title
    )


def draft_refusal(outcome: Outcome, _: Gettext, **facts: object) -> str:
    """What is wrong with a button or an input for the draft (`facts` fill the numbers)."""
    texts: dict[Outcome, Callable[[], str]] = {
        Outcome.OUTDATED: lambda: outdated_text(_),
        Outcome.NO_DISTRICT: lambda: _("Tick at least one district."),
        Outcome.NO_STAGE: lambda: _("Tick at least one stage."),
        Outcome.NO_TITLE: lambda: _(
            "Please type the title of the notice as text (at most {max} characters)."
        ).format(max=TITLE_MAX),
        Outcome.TITLE_TOO_LONG: lambda: title_too_long_text(
            int(str(facts.get("length"))), TITLE_MAX, _),
        Outcome.NOT_TEXT: lambda: _(
            "Please send the text of the notice first; you can attach a file next."),
        Outcome.TOO_LONG: lambda: too_long_text(int(str(facts.get("length"))),
                                                int(str(facts.get("limit"))), _),
        Outcome.NOT_FILE: lambda: _("Please send a document or a photo, or tap “No attachment”."),
        Outcome.NO_CODES: lambda: _("Please type at least one school code."),
        Outcome.UNKNOWN_CODES: lambda: _(
            "No school has the code {codes}. Please check and type the codes again."
        ).format(codes=html.escape(str(facts.get("codes")))),
        Outcome.CLOSED_SCHOOLS: lambda: _(
            "These schools are closed: {codes}. Please type the codes again without them."
        ).format(codes=html.escape(str(facts.get("codes")))),
        Outcome.BAD_TIME: lambda: _("Please type the date and time like 2026-11-25 09:00."),
        Outcome.TIME_PASSED: lambda: _("That time has passed. Please type a time in the future."),
        Outcome.TOO_FAR: lambda: _("Please choose a time within the next 90 days."),
    }
    text = texts.get(outcome)
    return text() if text is not None else stale_text(_)


def send_refusal(refused: Refused, _: Gettext) -> str:
    """Why a notice cannot be sent, in chat."""
    if refused.reason is Refusal.TOO_LONG:
        return too_long_text(refused.length, refused.limit, _)
    if refused.reason is Refusal.TIME_PASSED:
        return _("The chosen time has passed: choose a new one with “Edit”.")
    if refused.reason is Refusal.NOBODY:
        return _("Nobody would receive this notice: choose another audience.")
    if refused.reason is Refusal.ALREADY_REMINDED:
        return _("This reminder was already sent.")
    if refused.reason is Refusal.TITLE_TOO_LONG:
        return title_too_long_text(refused.length, refused.limit, _)
    return stale_text(_)


def cli_refusal(refused: Refused, source: str) -> str:
    """Why a notice cannot be sent, on the command line (`source`: the text file, the --at)."""
    if refused.reason is Refusal.TOO_LONG:
        return (
            f"{source}: {refused.length} characters; Telegram allows 4,096 per message, which "
            f"leaves {refused.limit} for the text after the bureau's heading. Shorten it by "
            f"{refused.length - refused.limit}, or attach the long part as a file."
        )
    if refused.reason is Refusal.TIME_PASSED:
        return f"--at {source!r} is in the past"
    if refused.reason is Refusal.NOBODY:
        return "nobody would receive this notice (no connected school contacts)"
    if refused.reason is Refusal.TITLE_TOO_LONG:
        return (
            f"--title has {refused.length} characters; a title can have at most "
            f"{refused.limit}. Shorten it; the full wording belongs in the text."
        )
    return f"no notice #{source}"
