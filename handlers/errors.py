"""The error handler: log with context, tell the person politely, never leak details."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from texts.i18n import gettext_for, language_of
from transport.context import HuibaoApp, HuibaoContext

log = logging.getLogger("huibao.errors")


async def on_error(update: object, context: HuibaoContext) -> None:
    error = context.error
    details: dict[str, object] = {"error": repr(error)}
    if isinstance(update, Update):
        details["update_id"] = update.update_id
        if update.effective_user:
            details["user_id"] = update.effective_user.id
    if isinstance(error, NetworkError) and not isinstance(update, Update):
        # Polling hiccups are retried by PTB itself; one warning line is enough.
        log.warning("network error", extra=details)
        return
    log.error("handler failed", exc_info=error, extra=details)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    user = update.effective_user
    # The database may be what failed, so the language comes from Telegram here.
    code = user.language_code if user else None
    language = language_of(None, context.services.settings.bureau.default_language, code)
    _ = gettext_for(language)
    text = _(
        "Sorry, something went wrong on our side. Nothing you entered before this step "
        "was lost; please try again in a moment."
    )
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except Forbidden:
        pass
    except Exception:  # the apology is best effort; the error is already logged
        log.warning("could not send the apology", extra=details)


def register(app: HuibaoApp) -> None:
    app.add_error_handler(on_error)
