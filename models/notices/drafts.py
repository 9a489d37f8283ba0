"""The notice composer's state machine: a draft, one step at a time, saved after every step.

Every function here is pure: it changes the draft object it is given (the caller's session
saves it) and says what to show next as an `Outcome`; none reads the database or a clock
(the time is passed in as `now`). The chat's buttons and typed input each call one of them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.clock import after_quiet_hours
from models.notices.audiences import Audience, AudienceKind, Resolved
from models.notices.sending import Attachment, NewNotice
from models.notices.tables import NoticeDraft
from models.notices.titles import TITLE_MAX, clean_title
from models.roster.tables import Stage

STEP_TITLE = "title"
STEP_TEXT = "text"
STEP_ATTACHMENT = "attachment"
STEP_AUDIENCE = "audience"
STEP_DISTRICTS = "districts"
STEP_STAGES = "stages"
STEP_SCHOOLS = "schools"
STEP_ACK = "ack"
STEP_WHEN = "when"
STEP_TIME = "time"
STEP_PREVIEW = "preview"
INPUT_STEPS = frozenset({STEP_TITLE, STEP_TEXT, STEP_ATTACHMENT, STEP_SCHOOLS, STEP_TIME})
AUDIENCE_STEPS = frozenset({STEP_DISTRICTS, STEP_STAGES, STEP_SCHOOLS, STEP_AUDIENCE})
# A draft untouched for this long no longer catches messages; /notice offers to resume it.
DRAFT_IDLE = timedelta(hours=2)
SCHEDULE_MAX = timedelta(days=90)
# How a scheduled time must lie ahead when typed.
SCHEDULE_MIN = timedelta(minutes=1)

_AUDIENCE_STEP = {"d": STEP_DISTRICTS, "s": STEP_STAGES, "c": STEP_SCHOOLS}
_EDIT_STEP = {
    "title": STEP_TITLE, "text": STEP_TEXT, "att": STEP_ATTACHMENT, "aud": STEP_AUDIENCE,
    "ack": STEP_ACK, "when": STEP_WHEN, "back": STEP_PREVIEW,
}


class Outcome(enum.Enum):
    """What the person sees after a button or an input."""

    PROMPT = "prompt"  # the question of the draft's step (now changed or not)
    STALE = "stale"  # the button does not fit the draft any more
    OUTDATED = "outdated"  # a preview's button, but the draft changed since
    EDIT_MENU = "edit_menu"  # the preview's buttons become the list of parts to edit
    PREVIEW_MENU = "preview_menu"  # and back
    NO_DISTRICT = "no_district"
    NO_STAGE = "no_stage"
    SEND = "send"  # the preview is current: the caller sends it
    # Typed input that does not fit the step:
    NO_TITLE = "no_title"
    TITLE_TOO_LONG = "title_too_long"
    NOT_TEXT = "not_text"
    TOO_LONG = "too_long"
    NOT_FILE = "not_file"
    NO_CODES = "no_codes"
    UNKNOWN_CODES = "unknown_codes"
    CLOSED_SCHOOLS = "closed_schools"
    BAD_TIME = "bad_time"
    TIME_PASSED = "time_passed"
    TOO_FAR = "too_far"


# The steps in the order they are asked, each with what says the draft still lacks its answer.
_ASKED: tuple[tuple[str, Callable[[NoticeDraft], bool]], ...] = (
    (STEP_TITLE, lambda d: d.title is None),
    (STEP_TEXT, lambda d: d.text is None),
    (STEP_ATTACHMENT, lambda d: d.attachment_kind is None),
    (STEP_AUDIENCE, lambda d: d.audience is None),
    (STEP_ACK, lambda d: d.requires_ack is None),
    (STEP_WHEN, lambda d: d.send_mode is None),
    (STEP_TIME, lambda d: d.send_mode == "at" and d.scheduled_at is None),
)


def next_step(draft: NoticeDraft) -> str:
    """The first step whose answer the draft lacks; the preview once it lacks none."""
    return next((step for step, lacking in _ASKED if lacking(draft)), STEP_PREVIEW)


def changed(draft: NoticeDraft, now: datetime, step: str | None = None) -> Outcome:
    """Every change bumps the version, so a preview shown before it cannot send."""
    draft.version += 1
    draft.updated_at = now
    draft.step = step or next_step(draft)
    return Outcome.PROMPT


def new_draft(author_id: int, version: int) -> NoticeDraft:
    return NoticeDraft(author_id=author_id, step=STEP_TEXT, version=version, selection=[])


def reset(draft: NoticeDraft) -> None:
    draft.title = None
    draft.text = None
    draft.attachment_kind = draft.attachment_file_id = draft.attachment_name = None
    draft.audience = None
    draft.selection = []
    draft.requires_ack = None
    draft.send_mode = None
    draft.scheduled_at = None


def start_over(draft: NoticeDraft, now: datetime) -> Outcome:
    reset(draft)
    return changed(draft, now, STEP_TITLE)


def toggled(selection: list[Any], value: object) -> list[Any]:
    return [v for v in selection if v != value] if value in selection else [*selection, value]


def waits_for_input(draft: NoticeDraft | None, now: datetime) -> bool:
    return (
        draft is not None
        and draft.step in INPUT_STEPS
        and now - draft.updated_at <= DRAFT_IDLE
    )


def reminder_due(
    sent_at: datetime, delay_hours: float, tz: ZoneInfo, quiet: tuple[Any, Any, bool]
) -> datetime | None:
    """When the automatic reminder of a notice sent at `sent_at` is due (None: never)."""
    if delay_hours <= 0:
        return None
    start, end, enabled = quiet
    return after_quiet_hours(
        sent_at + timedelta(hours=delay_hours), tz, start, end, enabled=enabled
    )


# --- buttons -------------------------------------------------------------------------------


def resume(draft: NoticeDraft, now: datetime) -> Outcome:
    draft.updated_at = now
    draft.step = next_step(draft) if draft.step == STEP_PREVIEW else draft.step
    return Outcome.PROMPT


def no_attachment(draft: NoticeDraft, now: datetime) -> Outcome:
    if draft.step != STEP_ATTACHMENT:
        return Outcome.STALE
    draft.attachment_kind = "none"
    draft.attachment_file_id = draft.attachment_name = None
    return changed(draft, now)


def choose_audience(draft: NoticeDraft, choice: str | None, now: datetime) -> Outcome:
    """`choice` None: back to the audience question (from one of its sub-steps)."""
    if choice is None:
        if draft.step not in AUDIENCE_STEPS:
            return Outcome.STALE
        return changed(draft, now, STEP_AUDIENCE)
    if draft.step != STEP_AUDIENCE:
        return Outcome.STALE
    if choice == "all":
        draft.audience = Audience(AudienceKind.ALL).to_json()
        return changed(draft, now)
    step = _AUDIENCE_STEP.get(choice)
    if step is None:
        return Outcome.STALE
    draft.selection = []
    return changed(draft, now, step)


def tick(draft: NoticeDraft, step: str, value: object, now: datetime) -> Outcome:
    """Tick or untick a district id (STEP_DISTRICTS) or a stage code (STEP_STAGES)."""
    if draft.step != step:
        return Outcome.STALE
    draft.selection = toggled(draft.selection, value)
    return changed(draft, now, step)


def ticked_done(draft: NoticeDraft, step: str, now: datetime) -> Outcome:
    if draft.step != step:
        return Outcome.STALE
    if not draft.selection:
        return Outcome.NO_DISTRICT if step == STEP_DISTRICTS else Outcome.NO_STAGE
    kind = AudienceKind.DISTRICTS if step == STEP_DISTRICTS else AudienceKind.STAGES
    draft.audience = Audience(kind, tuple(draft.selection)).to_json()
    return changed(draft, now)


def choose_ack(draft: NoticeDraft, required: bool, now: datetime) -> Outcome:
    if draft.step != STEP_ACK:
        return Outcome.STALE
    draft.requires_ack = required
    return changed(draft, now)


def choose_when(draft: NoticeDraft, mode: str, now: datetime) -> Outcome:
    if draft.step not in (STEP_WHEN, STEP_TIME) or mode not in ("now", "at"):
        return Outcome.STALE
    draft.send_mode = mode
    draft.scheduled_at = None
    return changed(draft, now, STEP_TIME if mode == "at" else None)


def current_preview(draft: NoticeDraft, version: int) -> bool:
    return version == draft.version and draft.step == STEP_PREVIEW


def open_edit(draft: NoticeDraft, version: int) -> Outcome:
    return Outcome.EDIT_MENU if current_preview(draft, version) else Outcome.OUTDATED


def edit_part(draft: NoticeDraft, part: str, version: int, now: datetime) -> Outcome:
    if draft.step != STEP_PREVIEW:
        return Outcome.STALE
    if version != draft.version:
        return Outcome.OUTDATED
    step = _EDIT_STEP.get(part)
    if step is None:
        return Outcome.STALE
    if step == STEP_PREVIEW:
        return Outcome.PREVIEW_MENU
    return changed(draft, now, step)


def may_send(draft: NoticeDraft, version: int) -> Outcome:
    return Outcome.SEND if current_preview(draft, version) else Outcome.OUTDATED


# --- typed input ---------------------------------------------------------------------------


def take_title(draft: NoticeDraft, raw: str | None, now: datetime) -> Outcome:
    """A title is plain text on one line, at most TITLE_MAX characters."""
    title = clean_title(raw or "")
    if not title:
        return Outcome.NO_TITLE
    if len(title) > TITLE_MAX:
        return Outcome.TITLE_TOO_LONG
    draft.title = title
    return changed(draft, now)


def take_text(
    draft: NoticeDraft, text_html: str | None, length: int, limit: int, now: datetime
) -> Outcome:
    """`length` is the text's length as Telegram counts it, `limit` the room it has."""
    if not text_html:
        return Outcome.NOT_TEXT
    if length > limit:
        return Outcome.TOO_LONG
    draft.text = text_html
    return changed(draft, now)


def take_file(
    draft: NoticeDraft, kind: str | None, file_id: str | None, name: str | None, now: datetime
) -> Outcome:
    """`kind` is "document" or "photo", None when the message holds neither."""
    if kind is None:
        return Outcome.NOT_FILE
    draft.attachment_kind = kind
    draft.attachment_file_id = file_id
    draft.attachment_name = name
    return changed(draft, now)


def take_codes(
    draft: NoticeDraft, codes: Sequence[str], resolved: Resolved | None, now: datetime
) -> Outcome:
    """`resolved` is the audience of these codes (None when no code was typed)."""
    if not codes or resolved is None:
        return Outcome.NO_CODES
    if resolved.unknown_codes:
        return Outcome.UNKNOWN_CODES
    if resolved.inactive:
        return Outcome.CLOSED_SCHOOLS
    draft.audience = Audience(AudienceKind.SCHOOLS, tuple(codes)).to_json()
    return changed(draft, now)


def take_time(draft: NoticeDraft, at: datetime | None, now: datetime) -> Outcome:
    if at is None:
        return Outcome.BAD_TIME
    if at <= now + SCHEDULE_MIN:
        return Outcome.TIME_PASSED
    if at > now + SCHEDULE_MAX:
        return Outcome.TOO_FAR
    draft.scheduled_at = at
    return changed(draft, now)


def tick_stage(draft: NoticeDraft, stage: str, now: datetime) -> Outcome:
    if stage not in {s.value for s in Stage}:
        return Outcome.STALE
    return tick(draft, STEP_STAGES, stage, now)


def notice_from_draft(draft: NoticeDraft, author_id: int) -> NewNotice | None:
    """The notice a finished draft makes (None: the draft is not finished after all)."""
    audience = Audience.from_json(draft.audience)
    if audience is None or draft.text is None or draft.title is None:
        return None
    attachment = (
        Attachment(draft.attachment_kind, draft.attachment_name, draft.attachment_file_id)
        if draft.attachment_kind in ("document", "photo") else None
    )
    return NewNotice(
        text=draft.text,
        title=draft.title,
        audience=audience,
        requires_ack=bool(draft.requires_ack),
        author_id=author_id,
        attachment=attachment,
        scheduled_at=draft.scheduled_at if draft.send_mode == "at" else None,
    )
