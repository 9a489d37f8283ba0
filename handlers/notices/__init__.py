"""Notices in chat: staff compose and send them (/notice, compose.py and input.py), follow
acknowledgements and remind (/notices, follow.py); principals acknowledge them and open
them again. Automatic reminders run on the scheduler (scheduler/notice_reminders.py)."""

from __future__ import annotations

from typing import Any

from telegram.ext import filters

from handlers import menu
from handlers.notices import compose, follow
from handlers.notices.compose import reminder_due
from models.roster.tables import Role
from texts import callbacks as cb
from texts.i18n import N_
from transport.context import HuibaoApp

READERS = menu.STAFF | menu.SCHOOL

__all__ = ["READERS", "register", "reminder_due"]

staff = menu.STAFF
BUTTONS: list[tuple[Any, Any, frozenset[Role], cb.Callback]] = [
    (cb.DistrictsDone, compose.districts_done, staff, cb.DistrictsDone()),
    (cb.NoticeDistrictTick, compose.district_button, staff, cb.NoticeDistrictTick(1)),
    (cb.StagesDone, compose.stages_done, staff, cb.StagesDone()),
    (cb.NoticeStageTick, compose.stage_button, staff, cb.NoticeStageTick("primary")),
    (cb.ChooseAudience, compose.audience_button, staff, cb.ChooseAudience("all")),
    (cb.ChooseAck, compose.ack_choice, staff, cb.ChooseAck(1)),
    (cb.ChooseWhen, compose.when_choice, staff, cb.ChooseWhen("now")),
    (cb.OpenEdit, compose.edit_button, staff, cb.OpenEdit(1)),
    (cb.EditPart, compose.edit_part, staff, cb.EditPart("text", 1)),
    (cb.SendDraft, compose.send_button, staff, cb.SendDraft(1)),
    (cb.DraftAction, compose.action_button, staff, cb.DraftAction("start")),
    (cb.ViewNotice, follow.view_button, staff, cb.ViewNotice(1)),
    (cb.RemindNotice, follow.remind_button, staff, cb.RemindNotice(1, 1)),
    (cb.RetryNotice, follow.retry_button, staff, cb.RetryNotice(1)),
    (cb.Acknowledge, follow.ack_button, menu.SCHOOL, cb.Acknowledge(1)),
    (cb.OpenNotice, follow.open_button, menu.SCHOOL, cb.OpenNotice(1)),
    (cb.ListNotices, follow.list_button, READERS, cb.ListNotices()),
]


def register(app: HuibaoApp) -> None:
    private = filters.ChatType.PRIVATE
    menu.add_command(app, "notice", compose.notice_command, N_("Write a notice to schools"),
                     menu.STAFF, order=30, filters=private)
    menu.add_command(app, "notices", follow.notices_command, N_("Notices and acknowledgements"),
                     READERS, order=31, filters=private)
    # A notices button owns every data starting with its prefix (texts/callbacks.py), so
    # the longest prefixes go first: "nd:send" before "nd:s", "nd:edit" before "nd:e".
    for kind, handler, roles, example in sorted(BUTTONS, key=lambda b: -len(b[0].PREFIX)):
        menu.add_button(app, kind, handler, roles, example=example)
    # After the admin block (50): its buttons keep their places on the home screen.
    menu.add_section(menu.Section("notices", READERS, follow.render_section, order=60))
    # What staff type or send for a draft comes through handlers/routing.py (input.py).
