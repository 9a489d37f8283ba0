"""HTTP plumbing and the checks every Bot API method shares: gates, markup, edits, files."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.double.formatting import _format, utf16_len
from tests.double.internals import (
    _Bucket,
    _Chat,
    _image_size,
    _literal_filename,
    _normalize,
    _Params,
    _thumbnail,
    _Upload,
)
from tests.double.protocol import (
    _BUTTON_ACTIONS,
    _MESSAGE_METHODS,
    _SEND_METHODS,
    BLOCKED,
    MAX_CALLBACK_DATA_BYTES,
    NOT_MODIFIED,
    THUMBNAIL_SIDE,
    ApiCallError,
    ApiError,
    JSONDict,
    _bad,
    _fault,
    _log,
)
from tests.double.records import SentMessage, StoredFile


class RequestHandling:
    """Part of BotApiDouble: answering a request."""

    # -- HTTP plumbing --------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        canonical = self._canonical.get(method.lower(), method)
        arrived = time.monotonic()
        if canonical in _MESSAGE_METHODS and arrived < self._outage_until:
            if canonical in _SEND_METHODS:
                self.send_log.append((arrived, canonical, self._outage_status, 0))
            if self._outage_status == 0:
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("injected outage")
            return self._error_response(_fault(self._outage_status, 0))
        params: _Params | None = None
        try:
            params = await self._read_params(request)
            self.requests.append((canonical, params.snapshot()))
            self._counts[canonical] += 1
            _log.debug("%s %s", canonical, params.values)
            held = self._chat_delays.get(params.get("chat_id"))
            if held is not None and (held[1] is None or canonical in held[1]):
                await asyncio.sleep(held[0])
            handler = self._handlers.get(canonical)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(params)
        except ApiError as exc:
            values = params.snapshot() if params else {}
            chat_id = values.get("chat_id")
            self.errors.append(
                ApiCallError(
                    canonical,
                    chat_id if isinstance(chat_id, int) else None,
                    exc.status,
                    exc.description,
                    values,
                )
            )
            if canonical in _SEND_METHODS:
                self.send_log.append((arrived, canonical, exc.status, exc.retry_after or 0))
            return self._error_response(exc)
        except Exception as exc:  # a bug in the double must not look like a network glitch
            _log.exception("BotApiDouble failed on %s", canonical)
            self.internal_errors.append(f"{canonical}: {exc!r}")
            return self._error_response(
                ApiError(500, f"Internal Server Error: BotApiDouble bug: {exc!r}")
            )
        if canonical in _SEND_METHODS:
            self.send_log.append((arrived, canonical, 200, 0))
            if self._late_answers:
                await asyncio.sleep(self._late_answers.popleft())
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error_response(exc: ApiError) -> web.Response:
        return web.json_response(exc.body(), status=exc.status)

    async def _read_params(self, request: web.Request) -> _Params:
        values: JSONDict = dict(request.query)
        files: dict[str, _Upload] = {}
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad("JSON object expected")
                values.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        name = _literal_filename(value)
                        files[key] = _Upload(name, value.file.read(), value.content_type)
                    elif isinstance(value, bytes | bytearray):
                        values[key] = bytes(value).decode()
                    else:
                        values[key] = value
        return _Params({k: _normalize(k, v) for k, v in values.items()}, files)

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return self._error_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # -- shared checks --------------------------------------------------------------------

    def _chat_for(self, params: _Params) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
            if chat is not None:
                return chat
            if self.auto_create_chats and raw > 0:
                return self.user(raw)._chat
        raise _bad("chat not found")

    def _gate(self, method: str, params: _Params) -> _Chat:
        """Fault injection, chat lookup, blocking and flood control for send/edit calls."""
        if self._fail_queue:
            status, retry_after = self._fail_queue.popleft()
            self.injected_faults.append((method, status))
            raise _fault(status, retry_after)
        if method in _SEND_METHODS and (self._p429 or self._p5xx):
            roll = self._rng.random()
            if roll < self._p429:
                self.injected_faults.append((method, 429))
                raise _fault(429, self._random_retry_after)
            if roll < self._p429 + self._p5xx:
                status = self._rng.choice((500, 502))
                self.injected_faults.append((method, status))
                raise _fault(status, 0)
        chat = self._chat_for(params)
        if chat.id in self._blocked:
            raise ApiError(403, BLOCKED)
        if self._flood_global is not None or self._flood_chat_rate is not None:
            self._flood_check(chat)
        return chat

    def _flood_check(self, chat: _Chat) -> None:
        now = time.monotonic()
        wait = 0.0
        if self._flood_chat_rate is not None:
            if chat.flood is None:
                chat.flood = _Bucket(self._flood_chat_rate, max(1.0, self._flood_chat_rate), now)
            wait = chat.flood.take(now)
        if not wait and self._flood_global is not None:
            wait = self._flood_global.take(now)
        if wait:
            retry_after = self._flood_retry_after or max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _markup(self, params: _Params, *, inline_only: bool = False) -> JSONDict | None:
        if not params.has("reply_markup"):
            return None
        error = "can't parse reply keyboard markup JSON object"
        markup = params.json("reply_markup", error)
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad(error)
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif inline_only:
            raise _bad("inline keyboard expected")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad('field "keyboard" must be an Array')
        elif not ({"remove_keyboard", "force_reply"} & markup.keys()):
            raise _bad(error)
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad("can't parse inline keyboard button: Text must be a String")
                actions = [key for key in _BUTTON_ACTIONS if key in button]
                if not actions:
                    raise _bad("text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if "callback_data" in actions and (
                    not isinstance(data, str)
                    or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
                ):
                    raise _bad("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in actions and (
                    not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
                ):
                    raise _bad("BUTTON_URL_INVALID")

    def _reply_to(self, chat: _Chat, params: _Params) -> JSONDict | None:
        reply = params.json("reply_parameters", "can't parse reply parameters JSON object")
        target: int | None
        allow_missing = params.flag("allow_sending_without_reply")
        if isinstance(reply, dict):
            raw_target = reply.get("message_id")
            target = int(raw_target) if raw_target is not None else None
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        else:
            target = params.integer("reply_to_message_id")
        if target is None:
            return None
        bot_message = chat.bot_messages.get(target)
        if bot_message is not None:
            return bot_message.to_dict()
        user_message = chat.user_messages.get(target)
        if user_message is not None:
            return user_message
        if allow_missing:
            return None
        raise _bad("message to be replied not found")

    def _formatted(
        self, params: _Params, name: str, limit: int, too_long: str
    ) -> tuple[str | None, str | None, list[JSONDict]]:
        raw = params.text(name)
        if raw is None:
            return None, None, []
        parse_mode = params.text("parse_mode")
        entities_field = "entities" if name == "text" else "caption_entities"
        plain, entities = _format(raw, parse_mode, params.get(entities_field))
        if utf16_len(plain) > limit:
            raise _bad(too_long)
        return raw, plain, entities

    def _new_message(self, chat: _Chat, method: str, params: _Params, **fields: Any) -> SentMessage:
        message = SentMessage(
            chat_id=chat.id,
            message_id=chat.allocate_id(),
            method=method,
            date=int(time.time()),
            timestamp=time.monotonic(),
            parse_mode=params.text("parse_mode"),
            params=params.snapshot(),
            sender=self.bot_user,
            chat=chat.info,
            **fields,
        )
        chat.bot_messages[message.message_id] = message
        self.sent.append(message)
        self._changed(chat, message)
        self._sent_signal.fire()
        return message

    def _changed(self, chat: _Chat, message: SentMessage) -> None:
        chat.events.append(message)
        message.seq = len(chat.events)
        chat.changed.fire()
        if self.on_message is not None:
            self.on_message(message)

    def _editable(self, chat: _Chat, params: _Params) -> SentMessage:
        if params.has("inline_message_id") and not params.has("message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        message_id = params.integer("message_id")
        message = chat.bot_messages.get(message_id) if message_id is not None else None
        if message is None:
            if message_id in chat.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return message

    def _apply_edit(
        self,
        chat: _Chat,
        message: SentMessage,
        *,
        raw: str | None,
        plain: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        is_caption: bool,
    ) -> JSONDict:
        if (plain, entities, markup) == (message.plain, message.entities, message.reply_markup):
            raise _bad(NOT_MODIFIED)
        message.history.append((message.content, message.reply_markup))
        if is_caption:
            message.caption = raw
        else:
            message.text = raw
        message.plain, message.entities, message.reply_markup = plain, entities, markup
        message.edit_date = int(time.time())
        message.edited_at = time.monotonic()
        self._changed(chat, message)
        return message.to_dict()

    # -- files ----------------------------------------------------------------------------

    def _store_file(
        self,
        content: bytes,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        self._file_counter += 1
        n = self._file_counter
        prefix = "BQACAgUAAxkBAAI" if kind == "document" else "AgACAgUAAxkBAAI"
        suffix = Path(file_name).suffix if file_name else ".jpg"
        folder = "documents" if kind == "document" else "photos"
        stored = StoredFile(
            file_id=f"{prefix}{n:07d}",
            file_unique_id=f"AgAD{n:07d}",
            kind=kind,
            content=content,
            file_path=f"{folder}/file_{n}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, content: bytes, *, strict: bool) -> list[StoredFile]:
        """Telegram keeps several sizes of a photo, smallest first; keep a thumbnail and the
        original so code that wrongly uses ``photo[0]`` gets the thumbnail, as in production."""
        size = _image_size(content)
        if size is None:
            if strict:
                raise _bad("IMAGE_PROCESS_FAILED")
            single = [self._store_file(content, "photo", width=1, height=1)]
            self._remember_sizes(single)
            return single
        width, height = size
        sizes: list[StoredFile] = []
        if max(width, height) > THUMBNAIL_SIDE:
            thumb = _thumbnail(content)
            thumb_size = _image_size(thumb) if thumb else None
            if thumb is not None and thumb_size is not None:
                sizes.append(self._store_file(thumb, "photo", None, None, *thumb_size))
        sizes.append(self._store_file(content, "photo", None, None, width, height))
        self._remember_sizes(sizes)
        return sizes

    def _remember_sizes(self, sizes: list[StoredFile]) -> None:
        # Re-sending any size of a photo by file_id yields the whole set again, as on Telegram.
        family = [s.photo_size_dict() for s in sizes]
        for size in sizes:
            self._photo_sizes[size.file_id] = family

    def _input_file(self, params: _Params, name: str) -> _Upload | StoredFile:
        if name in params.files:
            return params.files[name]
        value = params.text(name)
        if not value:
            raise _bad(f"there is no {name} in the request")
        if value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(f"file {value} not found in the request")
            return upload
        stored = self.files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != name:
            raise _bad(f"can't use file of type {stored.kind.capitalize()} as {name.capitalize()}")
        return stored
