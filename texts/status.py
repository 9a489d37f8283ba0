"""What /status tells people: the reminder a staff member sends from a district's screen."""

from __future__ import annotations

from datetime import datetime, tzinfo
from html import escape

from texts.i18n import gettext_for
from texts.when import show


def remind_now_text(
    bureau: str, report: str, deadline: datetime, tz: tzinfo, language: str
) -> tuple[str, str]:
    """The reminder to a school that has not yet submitted `report`, and its button's label.

    (texts/reminders.py words the scheduled reminder; this one is sent on a tap.)"""
    _ = gettext_for(language)
    text = _(
        "⏰ {bureau} reminds you: your school has not yet submitted <b>{report}</b>, "
        "due {deadline}. Tap below to fill it in; your answers are saved as you go."
    ).format(bureau=escape(bureau), report=escape(report), deadline=show(deadline, tz, "full"))
    return text, _("Fill in now")
