"""What /status tells people (the screens of a round, a district, its missing schools).

The reminder its "remind these now" button sends is texts.reminders.remind_now_message:
the scheduled reminder's words, so a school is chased in one voice."""

from __future__ import annotations
