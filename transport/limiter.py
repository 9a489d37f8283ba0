"""The bot's pacing: every send to a chat, the chat's replies and the outbox's alike, keeps
to delivery.messages_per_second, and a 429 pauses them all.

Also the outbox worker's own bot, which shares this limiter with the application's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, BaseRateLimiter, Defaults, ExtBot
from telegram.warnings import PTBDeprecationWarning

from config.settings import DeliverySettings, TelegramSettings
from transport.http import AiohttpRequest


@dataclass
class OutboxCall:
    """The rate_limit_args of an outbox send.

    HuibaoRateLimiter then makes one try only (the worker handles RetryAfter itself: a
    limiter retry would hold the row and a sender for the whole wait), and awaits
    `before()` before the request takes its place in the pacing, so the delivery is marked
    `sending` before the HTTP call and the wait for a slot is as short as the rows in
    flight. `round_trip` is set to the seconds the HTTP call itself took (the worker sizes
    its requests in flight from it).
    """

    before: Callable[[], Awaitable[None]]
    marking: float = 0.0
    round_trip: float | None = None


# A send leaves only when the send `rate` places before it left more than a second plus
# this long ago: the time from here to Telegram's door varies a little from request to
# request, and Telegram counts at its door.
WINDOW_MARGIN = 0.03


class Pacer:
    """Smooth pacing: one send every 1/rate seconds, never more than `rate` in any second
    (a bucket of one, so no idle burst), and a pause after a 429 that every send obeys.

    `ready()` is awaited right before each HTTP request, after everything else a send
    waits for, so a pause that begins while a send waits still stops it.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.per_second = max(1, int(rate))
        self._next = 0.0
        # When the last `per_second` sends left (monotonic), oldest first.
        self._recent: deque[float] = deque(maxlen=self.per_second)
        self._pause_until = 0.0

    @property
    def paused_for(self) -> float:
        return max(0.0, self._pause_until - time.monotonic())

    def pause(self, seconds: float) -> None:
        """Telegram said "retry after": no send of this bot leaves before then."""
        self._pause_until = max(self._pause_until, time.monotonic() + seconds)

    async def ready(self) -> None:
        while True:
            now = time.monotonic()
            wait = self._pause_until - now
            if wait <= 0:
                slot = max(now, self._next)
                if len(self._recent) == self.per_second:
                    slot = max(slot, self._recent[0] + 1.0 + WINDOW_MARGIN)
                wait = slot - now
                if wait <= 0:
                    # Checked and taken with no await in between: nothing else can slip in.
                    self._next = now + self.interval
                    self._recent.append(now)
                    return
            await asyncio.sleep(wait)


class HuibaoRateLimiter(AIORateLimiter):
    """AIORateLimiter whose overall limit is a Pacer, shared by handlers and the outbox.

    PTB's own overall limit is a bucket of `rate` tokens: after an idle moment it lets
    `rate` sends through at once on top of the steady rate (60 in the first second at
    30/s), and a 429 only holds sends that have not yet been admitted. Here every
    request to a chat (handlers' replies and outbox sends alike) passes `Pacer.ready()`
    right before its HTTP call, and any 429 pauses them all. Group limits and paid
    broadcasts stay AIORateLimiter's. OutboxCall requests get a single try (below).

    (AIORateLimiter reads `rate_limit_args or max_retries`, so 0 cannot switch its retries
    off for one request; handlers keep the retries, the outbox must not have them.)
    """

    def __init__(self, rate: float, max_retries: int = 0) -> None:
        # overall_max_rate=0: no PTB bucket; the pacer is the overall limit.
        super().__init__(overall_max_rate=0, max_retries=max_retries)
        self.pacer = Pacer(rate)

    async def _run_request(
        self,
        chat: bool,
        group: str | int | bool,
        allow_paid_broadcast: bool,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        pacer = self.pacer

        async def paced(*call_args: Any, **call_kwargs: Any) -> Any:
            if chat and not allow_paid_broadcast:
                await pacer.ready()
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                pacer.pause(retry_after_seconds(exc))
                raise

        return await super()._run_request(
            chat, group, allow_paid_broadcast, paced, args, kwargs
        )

    async def process_request(
        self,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Any,
    ) -> Any:
        if not isinstance(rate_limit_args, OutboxCall):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        call = rate_limit_args

        async def admitted(*call_args: Any, **call_kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return await callback(*call_args, **call_kwargs)
            finally:
                call.round_trip = time.monotonic() - started

        started = time.monotonic()
        await call.before()
        call.marking = time.monotonic() - started
        # The same grouping as AIORateLimiter.process_request, with a single try.
        chat_id = data.get("chat_id")
        group: int | str | bool = False
        with contextlib.suppress(ValueError, TypeError):
            chat_id = int(chat_id)  # type: ignore[arg-type]
        if (isinstance(chat_id, int) and chat_id < 0) or isinstance(chat_id, str):
            group = chat_id
        return await self._run_request(
            chat=data.get("chat_id") is not None,
            group=group,
            allow_paid_broadcast=bool(data.get("allow_paid_broadcast", False)),
            callback=admitted,
            args=args,
            kwargs=kwargs,
        )


def outbox_bot(
    telegram: TelegramSettings,
    *,
    rate_limiter: BaseRateLimiter[Any] | None,
    defaults: Defaults | None = None,
    connection_pool_size: int = 64,
) -> ExtBot[Any]:
    """The worker's own bot: PTB over aiohttp (transport/http.py), sharing the application's
    rate limiter so that handlers and the outbox together keep to the configured rate."""
    return ExtBot(
        telegram.token,
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        request=AiohttpRequest(connection_pool_size=connection_pool_size),
        rate_limiter=rate_limiter,
        defaults=defaults,
    )


def build_rate_limiter(settings: DeliverySettings) -> HuibaoRateLimiter:
    # Paid broadcasts are paced by PTB's own 1000/s limiter and by the worker; everything
    # else (handlers' replies) stays within Telegram's free limit.
    rate = 30.0 if settings.allow_paid_broadcast else settings.messages_per_second
    return HuibaoRateLimiter(rate, max_retries=3)


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept either without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
