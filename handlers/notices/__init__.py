"""Notices in chat: staff compose and send them (/notice, compose.py and input.py), follow
acknowledgements and remind (/notices, follow.py); principals acknowledge them and open
them again. Automatic reminders run on the scheduler (scheduler/notice_reminders.py)."""

from __future__ import annotations

from functools import partial

from telegram.ext import MessageHandler, filters

from handlers import menu, report
from handlers.notices import compose, follow
from handlers.notices.compose import reminder_due
from handlers.notices.input import DRAFT_GROUP, draft_input, draft_waits
from texts import callbacks as cb
from texts.i18n import N_
from transport.context import HuibaoApp

READERS = menu.STAFF | menu.SCHOOL

__all__ = ["READERS", "register", "reminder_due"]


def register(app: HuibaoApp) -> None:
    private = filters.ChatType.PRIVATE
    menu.add_command(app, "notice", compose.notice_command, N_("Write a notice to schools"),
                     menu.STAFF, order=30, filters=private)
    menu.add_command(app, "notices", follow.notices_command, N_("Notices and acknowledgements"),
                     READERS, order=31, filters=private)
    # Most specific first: "nd:d:ok" before "nd:d", every "nd:..." before "nd".
    staff = menu.STAFF
    menu.add_button(app, cb.DistrictsDone, compose.districts_done, staff,
                    example=cb.DistrictsDone())
    menu.add_button(app, cb.TickDistrict, compose.district_button, staff,
                    example=cb.TickDistrict(1))
    menu.add_button(app, cb.StagesDone, compose.stages_done, staff, example=cb.StagesDone())
    menu.add_button(app, cb.TickStage, compose.stage_button, staff,
                    example=cb.TickStage("primary"))
    menu.add_button(app, cb.ChooseAudience, compose.audience_button, staff,
                    example=cb.ChooseAudience("all"))
    menu.add_button(app, cb.ChooseAck, compose.ack_choice, staff, example=cb.ChooseAck(1))
    menu.add_button(app, cb.ChooseWhen, compose.when_choice, staff, example=cb.ChooseWhen("now"))
    menu.add_button(app, cb.OpenEdit, compose.edit_button, staff, example=cb.OpenEdit(1))
    menu.add_button(app, cb.EditPart, compose.edit_part, staff, example=cb.EditPart("text", 1))
    menu.add_button(app, cb.SendDraft, compose.send_button, staff, example=cb.SendDraft(1))
    menu.add_button(app, cb.DraftAction, compose.action_button, staff,
                    example=cb.DraftAction("start"))
    menu.add_button(app, cb.ViewNotice, follow.view_button, staff, example=cb.ViewNotice(1))
    menu.add_button(app, cb.RemindNotice, follow.remind_button, staff,
                    example=cb.RemindNotice(1, 1))
    menu.add_button(app, cb.RetryNotice, follow.retry_button, staff, example=cb.RetryNotice(1))
    menu.add_button(app, cb.Acknowledge, follow.ack_button, menu.SCHOOL,
                    example=cb.Acknowledge(1))
    menu.add_button(app, cb.OpenNotice, follow.open_button, menu.SCHOOL,
                    example=cb.OpenNotice(1))
    menu.add_button(app, cb.ListNotices, follow.list_button, READERS, example=cb.ListNotices())
    # After the admin block (50): its buttons keep their places on the home screen.
    menu.add_section(menu.Section("notices", READERS, follow.render_section, order=60))
    app.add_handler(
        MessageHandler(
            private & (filters.TEXT | filters.Document.ALL | filters.PHOTO) & ~filters.COMMAND,
            draft_input,
        ),
        group=DRAFT_GROUP,
    )
    report.STAFF_INPUT.append(partial(draft_waits, app))
