"""One send of the outbox: the Telegram call, files uploaded once, and what a failure means.

A failed send raises `Outcome`, which says what to record: wait (RetryAfter), retry later
(network errors and 5xx, possibly in doubt), or give up (BadRequest; Forbidden: the
person blocked the bot). `InFlight` decides how many sends may be on their way at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InputFile, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.warnings import PTBUserWarning

from config.settings import DeliverySettings
from models.outbox import OutboxFile, OutMessage
from scheduler.journal import Entry, Journal
from transport.http import AiohttpRequest, post_json
from transport.limiter import HuibaoRateLimiter, OutboxCall, retry_after_seconds
from transport.markup import keyboard_json, keyboard_markup

log = logging.getLogger("huibao.delivery")

# Text sends over another request class go through Bot.do_api_request("sendMessage") on
# purpose (Sender._send_text), which PTB would otherwise warn about on every send.
warnings.filterwarnings(
    "ignore", message=r"Please use 'Bot\.sendMessage'", category=PTBUserWarning
)


class Outcome(Exception):
    """How a send ended when it did not succeed; carries what to record."""

    def __init__(
        self, kind: str, error: str, retry_after: float = 0.0, *, in_doubt: bool = False
    ) -> None:
        super().__init__(error)
        self.kind = kind  # "retry_after" | "transient" | "failed" | "blocked"
        self.error = error
        self.retry_after = retry_after
        # The request may have reached Telegram (no answer came back): a retry may repeat it.
        self.in_doubt = in_doubt


class LeaseLost(Exception):
    """The delivery is no longer this worker's (or could not be marked): do not send."""


@dataclass
class Noted:
    """Writes the journal entry for one send as soon as Telegram's answer is read."""

    journal: Journal | None
    delivery_id: int
    token: str
    parts_sent: int
    final: bool
    written: bool = False

    def __call__(self, status: int, body: bytes) -> None:
        if self.journal is None or status != 200 or self.written:
            return
        try:
            message_id = int(json.loads(body)["result"]["message_id"])
        except (ValueError, KeyError, TypeError):
            return  # not a message (or not parseable here): recorded after PTB parsed it
        self.journal.record(
            Entry(self.delivery_id, self.token, self.parts_sent, message_id, self.final)
        )
        self.written = True


# Sends kept in flight per send the rate needs in flight (rate x the time one send
# takes). The time a send waits for its `sending` commit swings with the writer's groups
# (7 to 80 ms at 1,000 a second on a loaded machine); at 1.5 the rate limiter found no
# send ready at about 7 % of its slots. The extra ones wait at the limiter, marked
# `sending`: a crash sends them again (counted in doubt), never more than the cap.
HEADROOM = 3.0


class InFlight:
    """How many sends may be between `sending` and Telegram's answer at once.

    With a rate limiter that is HEADROOM x the rate x the time one send takes (marking it
    `sending`, then the HTTP round trip), measured as the worker goes, plus one: enough
    to keep a send ready at each of the limiter's slots, and no more, because what is in
    flight when the process dies is what may be sent twice. `cap` (delivery.concurrency)
    is the upper bound, and the number used without a rate limiter.
    """

    def __init__(self, cap: int, rate: float | None) -> None:
        self.cap = cap
        self.rate = rate
        self.limit = cap if rate is None else min(cap, 2)
        self.seconds_per_send: float | None = None
        self.peak = 0
        self._count = 0
        # Senders waiting for a place, first come first served. A freed place is handed to
        # the first of them: waking them all for each send (a Condition's notify_all) was
        # a dozen task wake-ups per message at 1,000 a second.
        self._waiters: deque[asyncio.Future[None]] = deque()

    def observe(self, seconds: float) -> None:
        if self.rate is None:
            return
        known = self.seconds_per_send
        # Quick to rise, slow to fall: a slow moment must not starve the pacing.
        if known is None or seconds > known:
            known = seconds if known is None else 0.5 * known + 0.5 * seconds
        else:
            known = 0.9 * known + 0.1 * seconds
        self.seconds_per_send = known
        self.limit = max(1, min(self.cap, math.ceil(self.rate * known * HEADROOM) + 1))
        self._hand_over()

    def _take(self) -> None:
        self._count += 1
        self.peak = max(self.peak, self._count)

    def _hand_over(self) -> None:
        """Give free places to the first waiters (the place is theirs when they wake)."""
        while self._waiters and self._count < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)

    async def acquire(self) -> None:
        if not self._waiters and self._count < self.limit:
            self._take()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                await self.release()  # handed a place, then cancelled: give it on
            raise

    async def release(self) -> None:
        self._count -= 1
        self._hand_over()


def may_have_arrived(exc: NetworkError) -> bool:
    """Whether a failed request may have reached Telegram all the same.

    A 5xx is Telegram's answer (it did not take the message), and a connection that could
    not be opened carried nothing; but a timeout or a connection lost after the request
    was written leaves it open whether Telegram accepted the message, so sending it again
    may repeat it.
    """
    cause: BaseException | None = exc.__cause__
    if cause is None:
        return False  # an HTTP answer (5xx), parsed by PTB
    if isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        return False
    return isinstance(cause, TimeoutError | aiohttp.ClientError | OSError)


def outcome_of(exc: Exception, chat_id: int) -> Outcome:
    """What a send's exception means for the delivery."""
    if isinstance(exc, RetryAfter):
        wait = retry_after_seconds(exc)
        return Outcome("retry_after", f"RetryAfter {wait:g}s", wait)
    if isinstance(exc, Forbidden):
        return Outcome("blocked", f"Forbidden: {exc.message}")
    if isinstance(exc, BadRequest):
        return Outcome("failed", f"BadRequest: {exc.message}")
    if isinstance(exc, NetworkError):  # includes TimedOut and Telegram's 5xx answers
        return Outcome(
            "transient", f"{type(exc).__name__}: {exc.message}", in_doubt=may_have_arrived(exc)
        )
    if isinstance(exc, TelegramError):  # InvalidToken, Conflict, ChatMigrated, ...
        return Outcome("failed", f"{type(exc).__name__}: {exc.message}")
    log.error("unexpected error while sending", exc_info=exc, extra={"chat_id": chat_id})
    return Outcome("transient", f"{type(exc).__name__}: {exc}", in_doubt=True)


FileRecorder = Callable[[int, str], Awaitable[Any]]


class Sender:
    """Makes the Telegram calls of the worker's sends; uploads each stored file once."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: DeliverySettings,
        record_file_id: FileRecorder,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.record_file_id = record_file_id
        limiter = getattr(bot, "rate_limiter", None)
        self.hooked = isinstance(limiter, HuibaoRateLimiter)
        rate: float | None = None
        if isinstance(limiter, HuibaoRateLimiter):
            # The pace the outbox's sends keep: the paid one when they ask for it.
            paid = settings.allow_paid_broadcast and limiter.paid is not None
            rate = limiter.paid.rate if paid and limiter.paid else limiter.pacer.rate
        self.inflight = InFlight(settings.concurrency, rate)
        # What the application's Defaults would add to a send_message (parse_mode), for
        # the text sends made through do_api_request, which does not add them.
        defaults = getattr(bot, "defaults", None)
        self._parse_mode: str | None = getattr(defaults, "parse_mode", None)
        self._file_ids: dict[int, str] = {}
        self._file_locks: dict[int, asyncio.Lock] = {}

    def _kwargs(self, chat_id: int, message: OutMessage) -> dict[str, Any]:
        """A file send's arguments (telegram objects: PTB builds the multipart request)."""
        kwargs: dict[str, Any] = {"chat_id": chat_id}
        if message.parse_mode:
            kwargs["parse_mode"] = message.parse_mode
        if message.keyboard:
            kwargs["reply_markup"] = keyboard_markup(message.keyboard)
        if message.reply_to_message_id:
            kwargs["reply_parameters"] = ReplyParameters(
                message.reply_to_message_id, allow_sending_without_reply=True
            )
        if self.settings.allow_paid_broadcast:
            kwargs["allow_paid_broadcast"] = True
        return kwargs

    def _text_fields(self, chat_id: int, message: OutMessage) -> dict[str, Any]:
        """A text send's fields as plain JSON; the application's Defaults (parse_mode)
        added here, since the light path below skips PTB's methods, which add them."""
        fields: dict[str, Any] = {"chat_id": chat_id, "text": message.text}
        parse_mode = message.parse_mode or self._parse_mode
        if parse_mode:
            fields["parse_mode"] = parse_mode
        if message.keyboard:
            fields["reply_markup"] = keyboard_json(message.keyboard)
        if message.reply_to_message_id:
            fields["reply_parameters"] = {
                "message_id": message.reply_to_message_id,
                "allow_sending_without_reply": True,
            }
        if self.settings.allow_paid_broadcast:
            fields["allow_paid_broadcast"] = True
        return fields

    async def send(
        self, chat_id: int, message: OutMessage, before: Callable[[], Awaitable[None]]
    ) -> int:
        """One Telegram call; returns the message id or raises Outcome (or LeaseLost).

        `before` marks the delivery `sending`: inside the rate limiter when there is one
        (see OutboxCall), else right here.
        """
        call = OutboxCall(before)
        try:
            if not self.hooked:
                await before()
            limit_args = call if self.hooked else None
            if message.kind == "text":
                return await self._send_text(self._text_fields(chat_id, message), limit_args)
            kwargs = self._kwargs(chat_id, message)
            if limit_args is not None:
                kwargs["rate_limit_args"] = limit_args
            return await self._send_file(message, kwargs)
        except (Outcome, LeaseLost):
            raise
        except Exception as exc:
            raise outcome_of(exc, chat_id) from exc
        finally:
            if call.round_trip is not None:
                self.inflight.observe(call.marking + call.round_trip)

    async def _send_text(self, fields: dict[str, Any], limit_args: OutboxCall | None) -> int:
        """sendMessage as one JSON body made here, through the rate limiter straight to
        the request (post_json), and without building a telegram.Message from the answer:
        at 1,000 a second PTB's request building and that parsing were each about a tenth
        to a third of a millisecond of CPU per send."""
        if isinstance(self.bot.request, AiohttpRequest):
            body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
            data = {"chat_id": fields["chat_id"],
                    "allow_paid_broadcast": fields.get("allow_paid_broadcast", False)}
            result = await post_json(self.bot, "sendMessage", body, data, limit_args)
        elif isinstance(self.bot, ExtBot):  # another request class (the console's)
            result = await self.bot.do_api_request(
                "sendMessage", api_kwargs=fields, rate_limit_args=limit_args
            )
        else:
            result = await self.bot.do_api_request("sendMessage", api_kwargs=fields)
        try:
            return int(result["message_id"])
        except (TypeError, KeyError, ValueError) as exc:
            raise Outcome("failed", f"unexpected answer to sendMessage: {result!r:.200}") from exc

    async def _send_file(self, message: OutMessage, kwargs: dict[str, Any]) -> int:
        caption = message.text or None
        if message.file_id:
            return await self._send_media(message.kind, message.file_id, caption, kwargs)
        if message.file_blob_id is None:
            raise Outcome("failed", "a file message without a file")
        blob_id = message.file_blob_id
        cached = self._file_ids.get(blob_id)
        if cached:
            return await self._send_media(message.kind, cached, caption, kwargs)
        # The first send uploads the file; the others wait for its Telegram file_id.
        async with self._file_locks.setdefault(blob_id, asyncio.Lock()):
            return await self._send_stored(message, blob_id, caption, kwargs)

    async def _send_stored(
        self, message: OutMessage, blob_id: int, caption: str | None, kwargs: dict[str, Any]
    ) -> int:
        cached = self._file_ids.get(blob_id)
        if cached:
            return await self._send_media(message.kind, cached, caption, kwargs)
        async with self.sessionmaker() as session:
            blob = await session.get(OutboxFile, blob_id)
        if blob is None:
            raise Outcome("failed", f"file {blob_id} is missing")
        if blob.telegram_file_id:
            self._file_ids[blob_id] = blob.telegram_file_id
            return await self._send_media(message.kind, blob.telegram_file_id, caption, kwargs)
        upload = InputFile(blob.content, filename=message.file_name or blob.name)
        sent_id, file_id = await self._upload(message.kind, upload, caption, kwargs)
        self._file_ids[blob_id] = file_id
        await self.record_file_id(blob_id, file_id)
        return sent_id

    async def _send_media(
        self, kind: str, file: str, caption: str | None, kwargs: dict[str, Any]
    ) -> int:
        sent = await self._media_call(kind, file, caption, kwargs)
        return sent.message_id

    async def _upload(
        self, kind: str, upload: InputFile, caption: str | None, kwargs: dict[str, Any]
    ) -> tuple[int, str]:
        sent = await self._media_call(kind, upload, caption, kwargs)
        if kind == "photo" and sent.photo:
            return sent.message_id, sent.photo[-1].file_id
        if sent.document is not None:
            return sent.message_id, sent.document.file_id
        raise Outcome("failed", "Telegram returned no file for the upload")

    async def _media_call(
        self, kind: str, file: str | InputFile, caption: str | None, kwargs: dict[str, Any]
    ) -> Message:
        if kind == "photo":
            return await self.bot.send_photo(photo=file, caption=caption, **kwargs)
        return await self.bot.send_document(document=file, caption=caption, **kwargs)


async def store_file_id(session: AsyncSession, blob_id: int, file_id: str) -> None:
    await session.execute(
        update(OutboxFile).where(OutboxFile.id == blob_id).values(telegram_file_id=file_id)
    )
