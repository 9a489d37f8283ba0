"""The Bot API methods the double answers, one coroutine each."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import time
from typing import Any

from tests.double.internals import _Chat, _Handler, _Params, _update_type, _Upload, _wait, _Webhook
from tests.double.protocol import (
    _CHAT_ACTIONS,
    _SCOPE_TYPES,
    BLOCKED,
    CALLBACK_EXPIRED,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_BYTES,
    ApiError,
    JSONDict,
    _bad,
)
from tests.double.records import CallbackAnswer


class ApiMethods:
    """Part of BotApiDouble: the methods."""

    # -- Bot API methods ------------------------------------------------------------------

    def _build_handlers(self) -> dict[str, _Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendChatAction": self._send_chat_action,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getChat": self._get_chat,
            "close": self._true,
            "logOut": self._true,
            "setMyDescription": self._bot_text_setter("description"),
            "getMyDescription": self._bot_text_getter("description"),
            "setMyShortDescription": self._bot_text_setter("short_description"),
            "getMyShortDescription": self._bot_text_getter("short_description"),
            "setMyName": self._bot_text_setter("name"),
            "getMyName": self._bot_text_getter("name"),
        }

    async def _true(self, params: _Params) -> bool:
        return True

    async def _get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _is_allowed(self, update: JSONDict) -> bool:
        return self._allowed_updates is None or _update_type(update) in self._allowed_updates

    def _set_allowed_updates(self, params: _Params) -> None:
        if not params.has("allowed_updates"):
            return
        allowed = params.json("allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None and not isinstance(allowed, list):
            raise _bad("allowed_updates must be an Array")
        self._allowed_updates = frozenset(str(a) for a in allowed) if allowed else None

    async def _get_updates(self, params: _Params) -> list[JSONDict]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset", 0) or 0
        limit = min(100, max(1, params.integer("limit", 100) or 100))
        timeout = max(0.0, params.number("timeout", 0.0))
        self._set_allowed_updates(params)
        pending = self._pending
        if offset > 0:
            while pending and pending[0]["update_id"] < offset:
                pending.popleft()
        elif offset < 0:
            while len(pending) > -offset:
                pending.popleft()
        # A newer getUpdates ends an older waiting one, which is how Telegram reports two
        # bot instances polling at once.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._updates_signal.current
            batch: list[JSONDict] = []
            for update in pending:
                if self._is_allowed(update):
                    batch.append(update)
                    if len(batch) >= limit:
                        break
            if batch or self._closing:
                return batch
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            if self._webhook is not None:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await _wait(signal, remaining)

    async def _send_message(self, params: _Params) -> JSONDict:
        chat = self._gate("sendMessage", params)
        raw, plain, entities = self._formatted(
            params, "text", MAX_TEXT_LENGTH, "message is too long"
        )
        if raw is None or plain is None or not plain.strip():
            raise _bad("message text is empty")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        message = self._new_message(
            chat,
            "sendMessage",
            params,
            text=raw,
            plain=plain,
            entities=entities,
            reply_markup=markup,
            reply_to_message=reply_to,
        )
        return message.to_dict()

    async def _edit_message_text(self, params: _Params) -> JSONDict:
        chat = self._gate("editMessageText", params)
        message = self._editable(chat, params)
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        raw, plain, entities = self._formatted(params, "text", MAX_TEXT_LENGTH, "MESSAGE_TOO_LONG")
        if raw is None or plain is None or not plain.strip():
            raise _bad("message text is empty")
        markup = self._markup(params, inline_only=True)
        if markup is None and message.reply_markup and not message.inline_keyboard:
            markup = message.reply_markup  # a reply keyboard belongs to the chat, not the text
        return self._apply_edit(
            chat,
            message,
            raw=raw,
            plain=plain,
            entities=entities,
            markup=markup,
            is_caption=False,
        )

    async def _edit_message_caption(self, params: _Params) -> JSONDict:
        chat = self._gate("editMessageCaption", params)
        message = self._editable(chat, params)
        if message.kind == "text":
            raise _bad("there is no caption in the message to edit")
        raw, plain, entities = self._formatted(
            params, "caption", MAX_CAPTION_LENGTH, "message caption is too long"
        )
        return self._apply_edit(
            chat,
            message,
            raw=raw,
            plain=plain,
            entities=entities,
            markup=self._markup(params, inline_only=True),
            is_caption=True,
        )

    async def _edit_message_reply_markup(self, params: _Params) -> JSONDict:
        chat = self._gate("editMessageReplyMarkup", params)
        message = self._editable(chat, params)
        return self._apply_edit(
            chat,
            message,
            raw=message.content,
            plain=message.plain,
            entities=message.entities,
            markup=self._markup(params, inline_only=True),
            is_caption=message.text is None,
        )

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        opened = self._open_callbacks.pop(query_id, None)
        if opened is None:
            raise _bad(CALLBACK_EXPIRED)
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            self._open_callbacks[query_id] = opened
            raise _bad("MESSAGE_TOO_LONG")
        update_id, chat_id = opened
        answer = CallbackAnswer(
            callback_query_id=query_id,
            update_id=update_id,
            chat_id=chat_id,
            text=text,
            show_alert=params.flag("show_alert"),
            url=params.text("url"),
            cache_time=params.integer("cache_time", 0) or 0,
            timestamp=time.monotonic(),
        )
        self.callback_answers[query_id] = answer
        self._answers_by_update[update_id] = answer
        self._answers_signal.fire()
        return True

    def _delete(self, chat: _Chat, message_id: int) -> bool:
        message = chat.bot_messages.pop(message_id, None)
        if message is not None:
            message.deleted = True
            return True
        return chat.user_messages.pop(message_id, None) is not None

    async def _delete_message(self, params: _Params) -> bool:
        chat = self._chat_for(params)
        message_id = params.integer("message_id")
        if message_id is None or not self._delete(chat, message_id):
            raise _bad("message to delete not found")
        return True

    async def _delete_messages(self, params: _Params) -> bool:
        chat = self._chat_for(params)
        ids = params.json("message_ids", "can't parse message identifiers JSON object")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message identifiers are invalid")
        for message_id in ids:
            self._delete(chat, int(message_id))
        return True

    async def _send_document(self, params: _Params) -> JSONDict:
        chat = self._gate("sendDocument", params)
        source = self._input_file(params, "document")
        if isinstance(source, _Upload):
            if not source.content:
                raise _bad("file must be non-empty")
            if len(source.content) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            name = source.filename or "document"
            mime = mimetypes.guess_type(name)[0] or source.content_type
            stored = self._store_file(source.content, "document", name, mime)
        else:
            stored = source
        return self._send_media(chat, "sendDocument", params, document=stored.document_dict())

    async def _send_photo(self, params: _Params) -> JSONDict:
        chat = self._gate("sendPhoto", params)
        source = self._input_file(params, "photo")
        if isinstance(source, _Upload):
            if not source.content:
                raise _bad("file must be non-empty")
            sizes = self._store_photo(source.content, strict=True)
            photo = [s.photo_size_dict() for s in sizes]
        else:
            photo = self._photo_sizes[source.file_id]
        return self._send_media(chat, "sendPhoto", params, photo=photo)

    def _send_media(self, chat: _Chat, method: str, params: _Params, **media: Any) -> JSONDict:
        raw, plain, entities = self._formatted(
            params, "caption", MAX_CAPTION_LENGTH, "message caption is too long"
        )
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        message = self._new_message(
            chat,
            method,
            params,
            caption=raw,
            plain=plain,
            entities=entities,
            reply_markup=markup,
            reply_to_message=reply_to,
            **media,
        )
        return message.to_dict()

    async def _get_file(self, params: _Params) -> JSONDict:
        stored = self.files.get(params.text("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return stored.file_dict()

    @staticmethod
    def _scope_key(scope: Any) -> str:
        scope = dict(scope) if isinstance(scope, dict) else {"type": "default"}
        chat_id = scope.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            scope["chat_id"] = int(chat_id)
        return json.dumps(scope, sort_keys=True, separators=(",", ":"))

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.json("scope", "can't parse BotCommandScope JSON object")
        if scope is not None:
            if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
                raise _bad("can't parse BotCommandScope JSON object")
            if scope["type"].startswith("chat") and "chat_id" not in scope:
                raise _bad("chat_id is empty")
        language = params.text("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("LANG_CODE_INVALID")
        return self._scope_key(scope), language

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        parsed: list[tuple[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((name, description))
        key = self._commands_key(params)
        if parsed:
            self.commands[key] = parsed
        else:
            self.commands.pop(key, None)
        return True

    async def _delete_my_commands(self, params: _Params) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSONDict]:
        commands = self.commands.get(self._commands_key(params), [])
        return [{"command": c, "description": d} for c, d in commands]

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token") or None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad("secret token contains unallowed characters")
        max_connections = params.integer("max_connections", 40) or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(params)
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._webhook = _Webhook(url, secret, max_connections, asyncio.Semaphore(max_connections))
        self._updates_signal.fire()  # wakes a waiting getUpdates so it reports the conflict
        if self._webhook_loop_task is None or self._webhook_loop_task.done():
            self._webhook_loop_task = asyncio.create_task(self._webhook_loop())
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        self._webhook = None
        if params.flag("drop_pending_updates"):
            self._pending.clear()
        self._updates_signal.fire()
        return True

    async def _get_webhook_info(self, params: _Params) -> JSONDict:
        hook = self._webhook
        info: JSONDict = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending) + len(self._webhook_tasks),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self._allowed_updates is not None:
            info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _send_chat_action(self, params: _Params) -> bool:
        chat = self._chat_for(params)
        if chat.id in self._blocked:
            raise ApiError(403, BLOCKED)
        if params.text("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _set_chat_menu_button(self, params: _Params) -> bool:
        chat_id: int | None = None
        if params.has("chat_id"):
            chat_id = self._chat_for(params).id
        button = params.json("menu_button", "can't parse menu button JSON object")
        if button is None:
            button = {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad("can't parse menu button JSON object")
        self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, params: _Params) -> JSONDict:
        chat_id = self._chat_for(params).id if params.has("chat_id") else None
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "commands"}))

    async def _get_chat(self, params: _Params) -> JSONDict:
        chat = self._chat_for(params)
        return {
            **chat.info,
            "accent_color_id": chat.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    def _bot_text_setter(self, name: str) -> _Handler:
        limit = {"name": 64, "description": 512, "short_description": 120}[name]

        async def handler(params: _Params) -> bool:
            value = params.text(name) or ""
            if len(value) > limit:
                raise _bad(f"{name.upper()}_INVALID")
            key = (name, params.text("language_code") or "")
            if value:
                self.bot_texts[key] = value
            else:
                self.bot_texts.pop(key, None)
            return True

        return handler

    def _bot_text_getter(self, name: str) -> _Handler:
        async def handler(params: _Params) -> JSONDict:
            language = params.text("language_code") or ""
            value = self.bot_texts.get((name, language), self.bot_texts.get((name, ""), ""))
            if name == "name" and not value:
                value = str(self.bot_user["first_name"])
            return {name: value}

        return handler
