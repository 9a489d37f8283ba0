"""The bot's pacing: every send to a chat, the chat's replies and the outbox's alike, keeps
to delivery.messages_per_second, and a 429 pauses them all.

Also the outbox worker's own bot, which shares this limiter with the application's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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

from config.settings import FREE_MESSAGES_PER_SECOND, DeliverySettings, TelegramSettings
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


# Sends on the wire (left, not yet answered) are kept to about the rate x WIRE_SECONDS,
# or twice the rate x the shortest round trip of the last RTT_WINDOW seconds if that is
# more (far from Telegram the wire holds rate x round trip). The window rule below keeps
# the cap whatever the wire holds; this keeps down how many a stalled receiver takes at
# once when it reads again (a stalled Bot API double once took 138 together).
WIRE_SECONDS = 0.045
RTT_WINDOW = 10.0

# How far behind the even pace the slots may fall and be made up by sends that leave
# together. Safe for the cap: the one-second rule (Pacer) holds whatever the spacing.
# At 1,000 a second a paid broadcast lost about 5 % of its slots in stalls of 20 to
# 240 ms (a `sending` commit that waited for a claim, a busy event loop); 50 ms' worth is
# 50 sends at once at 1,000 a second, one or two at 30.
MAKE_UP = 0.05


class Hold:
    """Telegram said "retry after": until when no send of this bot may leave. One Hold is
    shared by every Pacer of a bot, so a 429 on a paid send stops the free ones and the
    other way round."""

    def __init__(self) -> None:
        self.until = 0.0

    def pause(self, seconds: float) -> None:
        self.until = max(self.until, time.monotonic() + seconds)


class Pacer:
    """Smooth pacing: one send every 1/rate seconds, never more than `rate` in any second
    at the receiver's door, and a pause after a 429 that every send obeys.

    The one-second rule counts answers, not departures: a send leaves only while fewer
    than `rate` sends are unanswered or were answered within the last second. Any send
    that reaches Telegram within a second [s, s + 1) left before s + 1 and is answered
    after s; when the last of them left, every other one was on the wire or answered
    less than a second before, so it was counted. However unevenly sends travel (a
    scheduling delay here, a receiver that stops reading for a moment), no second at the
    door holds more than `rate`; a margin of time could only make that likely. Close to
    Telegram it costs the round trip in each second, not a fixed margin.

    `ready()` is awaited right before each HTTP request, after everything else a send
    waits for, so a pause that begins while a send waits still stops it. Each caller
    reserves its own slot (one wake-up per send, in the order they came, however many
    wait: at 1,000/s a shared "next slot" would wake every waiter for every send).
    Every send that passes `ready()` must report its end to `answered()`.
    """

    def __init__(self, rate: float, hold: Hold | None = None) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.per_second = max(1, int(rate))
        self.hold = hold or Hold()
        self._next = 0.0
        # When the sends answered within about the last second were answered (monotonic),
        # oldest first; older ones are dropped as they are met.
        self._answers: deque[float] = deque()
        # Set to a list to keep every departure time (bench/notices_broadcast.py).
        self.departures: list[float] | None = None
        # Sends that left and are not answered yet; the shortest answer lately, and when.
        self.on_wire = 0
        self.wire_floor = max(1, math.ceil(rate * WIRE_SECONDS))
        self._min_rtt: float | None = None
        self._min_rtt_at = 0.0

    def wire_limit(self) -> int:
        if self._min_rtt is None:
            return self.wire_floor
        return max(self.wire_floor, math.ceil(2 * self.rate * self._min_rtt) + 1)

    def answered(self, seconds: float, *, ok: bool) -> None:
        """A send that left has its answer (`ok`: a real one, not an error) after `seconds`.

        Errors count too: a request that failed may still have reached Telegram."""
        now = time.monotonic()
        self.on_wire -= 1
        self._answers.append(now)
        if not ok:
            return
        if self._min_rtt is None or seconds <= self._min_rtt or now > self._min_rtt_at + RTT_WINDOW:
            self._min_rtt, self._min_rtt_at = seconds, now

    def _wire_wait(self) -> float:
        return self.interval if self.on_wire >= self.wire_limit() else 0.0

    def _left_now(self, now: float) -> None:
        """Record a departure (called with no await since the checks)."""
        self.on_wire += 1
        if self.departures is not None:
            self.departures.append(now)

    @property
    def paused_for(self) -> float:
        return max(0.0, self.hold.until - time.monotonic())

    def pause(self, seconds: float) -> None:
        """Telegram said "retry after": no send of this bot leaves before then."""
        self.hold.pause(seconds)

    def _reserve(self, now: float) -> float:
        # Slots that went by with no send ready (the worker waited for the database, or
        # the event loop was busy) are made up, up to MAKE_UP seconds' worth at once.
        slot = max(now - MAKE_UP, self._next)
        self._next = slot + self.interval
        return slot

    def _window_wait(self, now: float) -> float:
        """How long until one more send keeps every one-second window within the rate."""
        answers = self._answers
        while answers and answers[0] <= now - 1.0:
            answers.popleft()
        if self.on_wire + len(answers) < self.per_second:
            return 0.0
        if not answers:
            return self.interval  # all on the wire: wait for answers
        return answers[0] + 1.0 - now + 1e-6

    async def ready(self) -> None:
        slot: float | None = None
        while True:
            now = time.monotonic()
            wait = self.hold.until - now
            if wait <= 0:
                if slot is None:
                    slot = self._reserve(now)
                wait = max(slot - now, self._window_wait(now), self._wire_wait())
                if wait <= 0:
                    # Checked and recorded with no await in between: nothing slips in.
                    self._left_now(now)
                    return
            else:
                slot = None  # paused: queue again when the pause is over
            await asyncio.sleep(wait)

    def _wait_beside(self, now: float, *, spaced: bool) -> float:
        wait = max(self.hold.until - now, self._window_wait(now))
        return max(wait, self._next - now) if spaced else max(wait, self._wire_wait())


async def ready_together(own: Pacer, shared: Pacer) -> None:
    """A send that keeps to two pacers at once (a reply to a user when broadcasts are
    paid: the free rate, and the bot's whole rate). It leaves when both allow it and is
    recorded in both at that moment; were it to wait for one and then the other, the time
    spent on the second would bunch sends the first had spaced. In `shared` it takes a
    place between the slots reserved there (whose holders then check the window again);
    these are few, the replies to users."""
    while True:
        now = time.monotonic()
        wait = max(own._wait_beside(now, spaced=True), shared._wait_beside(now, spaced=False))
        if wait <= 0:
            own._next = now + own.interval
            own._left_now(now)
            shared._left_now(now)  # on the wire of the bot's whole rate
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

    def __init__(
        self, rate: float, max_retries: int = 0, *, paid_rate: float | None = None
    ) -> None:
        # overall_max_rate=0: no PTB bucket; the pacer is the overall limit.
        super().__init__(overall_max_rate=0, max_retries=max_retries)
        self.hold = Hold()
        self.pacer = Pacer(rate, self.hold)
        # Paid broadcasts (delivery.allow_paid_broadcast): every send to a chat, paid or
        # not, also keeps to this rate, so the bot as a whole never passes it in any
        # second; free sends keep to `pacer` as well. None: no paid broadcasts.
        self.paid: Pacer | None = None if paid_rate is None else Pacer(paid_rate, self.hold)

    def pause(self, seconds: float) -> None:
        """A 429: every send of this bot waits, paid and free alike."""
        self.hold.pause(seconds)

    async def _call(
        self, left: tuple[Pacer, ...], callback: Callable[..., Any], args: Any, kwargs: Any
    ) -> Any:
        """The HTTP call of a send that passed the pacers in `left`, which learn its end."""
        started = time.monotonic()
        ok = False
        try:
            result = await callback(*args, **kwargs)
            ok = True
            return result
        except RetryAfter as exc:
            self.pause(retry_after_seconds(exc))
            raise
        finally:
            for pacer in left:
                pacer.answered(time.monotonic() - started, ok=ok)

    async def _admit(self, allow_paid_broadcast: bool) -> tuple[Pacer, ...]:
        """Wait until a send to a chat may leave; returns the pacers it was counted in."""
        pacer, paid = self.pacer, self.paid
        if paid is None:
            await pacer.ready()
            return (pacer,)
        if allow_paid_broadcast:
            await paid.ready()
            return (paid,)
        await ready_together(pacer, paid)
        return (pacer, paid)

    async def _run_request(
        self,
        chat: bool,
        group: str | int | bool,
        allow_paid_broadcast: bool,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        paid = self.paid

        async def paced(*call_args: Any, **call_kwargs: Any) -> Any:
            left = await self._admit(allow_paid_broadcast) if chat else ()
            return await self._call(left, callback, call_args, call_kwargs)

        if allow_paid_broadcast and paid is not None and not group:
            # Paced here, not by PTB's own 1000/s bucket (which lets a second's worth
            # through at once after an idle moment).
            return await paced(*args, **kwargs)
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
    """With paid broadcasts the outbox's sends (which ask for them) keep to
    delivery.messages_per_second and everything else, handlers' replies, to Telegram's free
    limit as well; without, every send keeps to delivery.messages_per_second."""
    if settings.allow_paid_broadcast:
        free = min(FREE_MESSAGES_PER_SECOND, settings.messages_per_second)
        return HuibaoRateLimiter(free, max_retries=3, paid_rate=settings.messages_per_second)
    return HuibaoRateLimiter(settings.messages_per_second, max_retries=3)


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept either without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
