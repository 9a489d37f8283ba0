"""The guided report conversation: a principal (or deputy) answers a round's form one
question at a time, reviews, submits, and may revise before the lock.

State lives in the database (principle 1): the current question is the submission's
`position` (shared by the school's principal and deputy), each answer is committed as it
is given, and `conversations` says which report a person's plain text goes to. A bot
killed at any moment continues at the same question with every earlier answer kept.

Plain text reaches the report through handlers/routing.py: when the person's
conversation is a report, whatever they type is for it (answer_step), even text shaped
like an invitation code.

The answer step (text in, answer checked, committed, next question out) is the hot path:
one query loads person, conversation, submission, round, school and lock together, one
loads the answers, one updates the submission (compare-and-set on its version, which
also locks it), one upserts the answer and one stores what the person is shown now, in
one transaction, with the form parsed once per process.

The principal and the deputy share one draft (issue 9): each person's conversation
state records the question they were last shown ("at"); a typed answer applies to that
question, and if a colleague has moved the draft on since, nothing is stored and the
person is shown where it stands now. Every write of the draft names the version it read
(rs.DraftMoved if another write came first): the step is then done again from the
start in a new transaction (`retrying`), so two people, or two processes, never lose
or misfile an answer. A refused button (another school's, an old or a forged one) is
answered with an alert and changes nothing of the presser's own conversation. No Bot
API call is made inside a transaction: replies are built inside, sent after the commit.


Modules: context (Ctx, load_ctx), conversation (who is in which conversation, the
retrying transaction), screens (what is shown, refusal texts), answer (typed
answers, on_text), submit (submitting, revising), open (/report, /cancel, the list),
buttons (the rp: buttons), submitted (the submitted report read-only, discarding a
revision, the list as a button).
"""

from __future__ import annotations

from telegram.ext import filters

from handlers import menu
from handlers.report.buttons import register_buttons
from handlers.report.context import KIND_REPORT, KIND_ROUND
from handlers.report.conversation import (
    clear_conversation,
    get_conversation_kind,
    set_conversation,
)
from handlers.report.open import cancel_command, render_pending, report_command
from handlers.report.submitted import register_submitted
from texts.i18n import N_
from transport.context import HuibaoApp

__all__ = [
    "KIND_REPORT",
    "KIND_ROUND",
    "clear_conversation",
    "get_conversation_kind",
    "register",
    "set_conversation",
]


def register(app: HuibaoApp) -> None:
    private = filters.ChatType.PRIVATE
    # Through the menu registry: the commands appear in the menus and /help of the roles
    # named, and everyone else is refused before the callbacks run.
    menu.add_command(app, "report", report_command, N_("Your school's reports"), menu.SCHOOL,
                     order=10, filters=private)
    # Whoever has conversations: principals and deputies (reports), staff (set-ups).
    menu.add_command(app, "cancel", cancel_command, N_("Pause a report or leave a set-up"),
                     menu.SCHOOL | menu.STAFF, order=90, filters=private)
    register_submitted(app)  # before register_buttons: it ends with the "rp:" stale family
    register_buttons(app)
    menu.add_section(menu.Section("report.pending", menu.SCHOOL, render_pending, order=10))
    # Typed answers come through handlers/routing.py (answer.answer_step).
