"""A python-telegram-bot request class over aiohttp, for the bot and the delivery worker.

PTB's default HTTPXRequest costs about 1.7 ms of CPU per sendMessage on the project's
machines, this one about 0.7 ms (bench/notices_broadcast.py): at paid-broadcast rates (up
to 1000 messages per second) the difference decides whether one process keeps up. The
application's own bot (handlers' replies, getUpdates) uses it too, where httpx's
connection pool also costs more than the answer step itself with a few hundred
principals answering at once (bench/report_step.py). The worker's bot shares the
application's rate limiter, so both together stay within delivery.messages_per_second.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import aiohttp
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

from models import txguard

# Called with (status, body) the moment an answer has been read, before PTB parses it: the
# delivery worker notes accepted messages in its journal here, shrinking the window in
# which a killed bot would not know that Telegram already has a message.
ON_RESPONSE: ContextVar[Callable[[int, bytes], None] | None] = ContextVar(
    "huibao_on_response", default=None
)

# The serialised JSON body of the request being made (post_json below), else None.
# Telegram and the double both read a JSON body; a form's percent-encoding of Chinese text
# was the biggest single CPU cost of a send at paid-broadcast rates, and building PTB's
# RequestParameters for every field the next one. (PTB's RequestData is final: the body
# cannot travel as one.)
JSON_BODY: ContextVar[bytes | None] = ContextVar("huibao_json_body", default=None)
_JSON_HEADERS = {"Content-Type": "application/json"}

# A file's name goes into the multipart body as browsers and httpx (PTB's own request
# class) write it: the UTF-8 text as it is inside filename="...", only the quote and
# control characters percent-escaped (HTML5 form encoding; aiohttp escapes the
# backslash). Telegram takes filename literally: with aiohttp's default quote_fields=True
# every workbook arrived named %E7%BC%96%E5%88%B6...-2026.xlsx.
_FILENAME_ESCAPES = {'"': "%22"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}


def form_filename(name: str) -> str:
    """The name as it goes into Content-Disposition (quote_fields=False)."""
    return "".join(_FILENAME_ESCAPES.get(ch, ch) for ch in name)


def _seconds(value: Any, default: float | None) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if value is None:
        return None
    return default  # DEFAULT_NONE: the instance's default


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        read_timeout: float | None = 15.0,
        write_timeout: float | None = 15.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 60.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        txguard.check(url)  # never while this task holds a database transaction open
        data: Any = None
        has_files = bool(request_data and request_data.contains_files)
        headers: dict[str, str] | None = None
        prepared = JSON_BODY.get()
        if prepared is not None:
            data = prepared
            headers = _JSON_HEADERS
        elif request_data is not None:
            if has_files:
                form = aiohttp.FormData(quote_fields=False)
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in request_data.multipart_data.items():
                    form.add_field(
                        name, content, filename=form_filename(filename), content_type=mime
                    )
                data = form
            else:
                data = request_data.json_parameters
        write = _seconds(
            write_timeout, self._media_write_timeout if has_files else self._write_timeout
        )
        read = _seconds(read_timeout, self._read_timeout)
        # aiohttp has no separate write timeout: the whole request may take write + read.
        total = None if read is None or write is None else read + write
        timeout = aiohttp.ClientTimeout(
            total=total,
            sock_connect=_seconds(connect_timeout, self._connect_timeout),
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                body = await response.read()
                hook = ON_RESPONSE.get()
                if hook is not None:
                    hook(response.status, body)
                return response.status, body
        except TimeoutError as exc:  # aiohttp's timeouts subclass asyncio.TimeoutError
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except asyncio.CancelledError:
            raise


async def post_json(
    bot: Bot, endpoint: str, body: bytes, data: dict[str, Any], rate_limit_args: Any
) -> Any:
    """POST a serialised JSON body to a Bot API method through the bot's rate limiter,
    as ExtBot would (the limiter sees `data`: chat_id, allow_paid_broadcast), but without
    PTB's per-call argument handling; returns the answer's `result` (or raises PTB's
    errors). The bot's request must be an AiohttpRequest."""
    post = bot.request.post
    args = (f"{bot.base_url}/{endpoint}",)
    limiter = bot.rate_limiter if isinstance(bot, ExtBot) else None
    token = JSON_BODY.set(body)
    try:
        if limiter is None:
            return await post(*args)
        return await limiter.process_request(
            callback=post, args=args, kwargs={}, endpoint=endpoint, data=data,
            rate_limit_args=rate_limit_args,
        )
    finally:
        JSON_BODY.reset(token)


async def send_html(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """sendMessage of an HTML text and its buttons, for a reply whose answer nobody reads
    (the report step's next question): one JSON body made here and posted through the
    rate limiter (post_json), so PTB's errors and the handlers' retries are as with
    send_message, but PTB neither builds the request's parameters nor a telegram.Message
    from the answer. Those two were about a tenth of the bot's CPU per step with a few
    hundred principals answering at once (bench/report_step.py)."""
    if not isinstance(bot.request, AiohttpRequest):  # another request class (the console's)
        await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)
        return
    fields: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": ParseMode.HTML}
    if markup is not None:
        fields["reply_markup"] = markup.to_dict()
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
    await post_json(bot, "sendMessage", body, {"chat_id": chat_id}, None)
