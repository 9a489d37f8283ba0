"""The double's state, life cycle, fault injection and observation (the test-facing side)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Self

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from tests.double.internals import _Bucket, _Chat, _Params, _Signal, _wait, _Webhook
from tests.double.methods import ApiMethods
from tests.double.protocol import MAX_UPLOAD_BYTES, ApiCallError, JSONDict
from tests.double.records import CallbackAnswer, SentMessage, StoredFile
from tests.double.requests import RequestHandling
from tests.double.users import FakeUser
from tests.double.webhook import WebhookDelivery


class BotApiDouble(RequestHandling, ApiMethods, WebhookDelivery):
    """A local Bot API server for one bot. See the module docstring for a usage sketch."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "huibao_test_bot",
        bot_id: int = 123456,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        bot_name: str = "汇报测试机器人",
        auto_create_chats: bool = False,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.host = host
        self.port = port
        # Telegram answers "chat not found" for users who never opened the bot; benchmarks that
        # broadcast to synthetic ids can opt into creating those private chats on first use.
        self.auto_create_chats = auto_create_chats
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.latency: float = 0.0

        # observation
        self.sent: list[SentMessage] = []
        self.requests: list[tuple[str, JSONDict]] = []
        self.errors: list[ApiCallError] = []
        self.internal_errors: list[str] = []
        self.commands: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.webhook_deliveries: list[int] = []
        self.injected_faults: list[tuple[str, int]] = []
        # Every sendMessage/sendDocument/sendPhoto request as it arrived, answered or not:
        # (time.monotonic(), method, HTTP status, retry_after of a 429 or 0). What Telegram
        # counts against its limits, so rate tests count these.
        self.send_log: list[tuple[float, str, int, int]] = []
        self.files: dict[str, StoredFile] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.users: dict[int, FakeUser] = {}
        self.on_message: Callable[[SentMessage], None] | None = None
        self._counts: Counter[str] = Counter()

        # chats and updates
        self._chats: dict[int, _Chat] = {}
        self._pending: deque[JSONDict] = deque()
        self._next_update_id = 1
        self._updates_signal = _Signal()
        self._sent_signal = _Signal()
        self._answers_signal = _Signal()
        self._poll_generation = 0
        self._allowed_updates: frozenset[str] | None = None
        self._callback_counter = 4_000_000
        self._open_callbacks: dict[str, tuple[int, int]] = {}
        self._answers_by_update: dict[int, CallbackAnswer] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._photo_sizes: dict[str, list[JSONDict]] = {}
        self._file_counter = 0

        # faults
        self._blocked: set[int] = set()
        self._fail_queue: deque[tuple[int, int]] = deque()
        self._rng = random.Random()
        self._p429 = 0.0
        self._p5xx = 0.0
        self._random_retry_after = 1
        self._flood_global: _Bucket | None = None
        self._flood_chat_rate: float | None = None
        self._flood_retry_after: int | None = None
        # chat id -> (seconds, methods or None for all): answers held back (delay_chat)
        self._chat_delays: dict[int, tuple[float, frozenset[str] | None]] = {}
        self._outage_until = 0.0
        self._outage_status = 500
        self._late_answers: deque[float] = deque()

        # webhook
        self._webhook: _Webhook | None = None
        self._webhook_loop_task: asyncio.Task[None] | None = None
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_tails: dict[int, asyncio.Task[None]] = {}
        self.webhook_max_attempts = 5
        self.webhook_retry_delay = 0.05

        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._closing = False
        self._bound_port: int | None = None
        self._handlers = self._build_handlers()
        self._canonical = {name.lower(): name for name in self._handlers}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # A short shutdown timeout: long polls are released explicitly in stop(), anything
        # left is a client that went away.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        # Benchmarks open hundreds of connections at once; the default backlog of 128 overflows.
        site = web.TCPSite(runner, self.host, self.port, backlog=2048)
        await site.start()
        self._runner = runner
        self._bound_port = int(runner.addresses[0][1])
        self._session = ClientSession(
            connector=TCPConnector(limit=200), timeout=ClientTimeout(total=30)
        )

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing = True
        self._updates_signal.fire()
        tasks: list[asyncio.Task[None]] = list(self._webhook_tasks)
        if self._webhook_loop_task is not None:
            tasks.append(self._webhook_loop_task)
            self._webhook_loop_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self._address()}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._address()}/file/bot"

    def _address(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("BotApiDouble is not started; use `async with` or await start()")
        return f"{self.host}:{self._bound_port}"

    # -- users and updates ----------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        language_code: str | None = "zh-hans",
        username: str | None = None,
        last_name: str | None = None,
    ) -> FakeUser:
        """The user with this id (created with its private chat on first call)."""
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("private chats have positive ids")
        user = FakeUser(
            self, user_id, first_name or f"用户{user_id}", language_code, username, last_name
        )
        self.users[user_id] = user
        self._chats[user_id] = _Chat(user_id, user.chat_dict)
        return user

    def message_from_bot(self, chat_id: int, text: str) -> SentMessage:
        """A message the bot sent to this user earlier (say, before a restart), without an
        API call: tests use it to set up state the bot will edit later."""
        chat = self._chats.get(chat_id)
        if chat is None:
            raise ValueError(f"no chat {chat_id}: create the user first")
        params = _Params({"chat_id": chat_id, "text": text}, {})
        return self._new_message(chat, "sendMessage", params, text=text, plain=text)

    def enqueue_update(self, payload: JSONDict) -> int:
        """Queue a raw update (e.g. ``{"my_chat_member": {...}}``); returns its update_id."""
        update_id = self._next_update_id
        self._next_update_id += 1
        self._pending.append({"update_id": update_id, **payload})
        self._updates_signal.fire()
        return update_id

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    # -- fault injection ------------------------------------------------------------------

    def block(self, chat_id: int) -> None:
        """From now on send*/edit* to this chat fail with 403, as after the user blocked the bot."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def fail_next(self, n: int, status: int = 429, retry_after: int = 1) -> None:
        """Fail the next ``n`` message sends/edits (any chat); calls queue up in order."""
        self._fail_queue.extend([(status, retry_after)] * n)

    def outage(self, seconds: float, status: int = 500) -> None:
        """For the next ``seconds``, answer every message send/edit with ``status`` (500, 502,
        ...), or with 0 drop the connection without an answer (a network error)."""
        self._outage_until = time.monotonic() + seconds
        self._outage_status = status

    def answer_late(self, n: int, seconds: float) -> None:
        """Accept the next ``n`` sends as usual (the message is in the chat) but answer each
        only after ``seconds``: a bot whose read timeout is shorter never learns it worked."""
        self._late_answers.extend([seconds] * n)

    def set_fault_rates(
        self,
        p429: float = 0.0,
        p5xx: float = 0.0,
        seed: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Fail sendMessage/sendDocument/sendPhoto at random with 429 or 500/502."""
        if p429 < 0 or p5xx < 0 or p429 + p5xx > 1:
            raise ValueError("fault probabilities must be >= 0 and sum to <= 1")
        self._p429, self._p5xx, self._random_retry_after = p429, p5xx, retry_after
        self._rng = random.Random(seed)

    def set_flood_limits(
        self,
        global_per_second: float | None = 30.0,
        per_chat_per_second: float | None = 1.0,
        retry_after: int | None = None,
    ) -> None:
        """Answer 429 like Telegram when sends/edits exceed these rates (token buckets).

        ``retry_after=None`` reports the time until the bucket refills (at least 1 s).
        Call with both rates None to switch it off.
        """
        now = time.monotonic()
        self._flood_global = (
            _Bucket(global_per_second, max(1.0, global_per_second), now)
            if global_per_second
            else None
        )
        self._flood_chat_rate = per_chat_per_second or None
        self._flood_retry_after = retry_after
        for chat in self._chats.values():
            chat.flood = None

    def delay_chat(
        self, chat_id: int, seconds: float, methods: Iterable[str] | None = None
    ) -> None:
        """Answer calls for this chat (only ``methods``, when given) ``seconds`` late, as a
        slow Telegram or a long flood wait would; the call is recorded on arrival. Call
        with 0 to stop."""
        if seconds > 0:
            self._chat_delays[chat_id] = (seconds, frozenset(methods) if methods else None)
        else:
            self._chat_delays.pop(chat_id, None)

    # -- observation ----------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        chat = self._chats.get(chat_id)
        return list(chat.bot_messages.values()) if chat else []

    def method_count(self, method: str) -> int:
        return self._counts[self._canonical.get(method.lower(), method)]

    def requests_for(self, method: str) -> list[JSONDict]:
        canonical = self._canonical.get(method.lower(), method)
        return [params for name, params in self.requests if name == canonical]

    def commands_for(
        self,
        scope: str | JSONDict | None = None,
        language_code: str = "",
        chat_id: int | None = None,
    ) -> list[tuple[str, str]] | None:
        """The last setMyCommands for a scope ("all_private_chats", a scope dict, or None for
        the default scope) and language; None if never set."""
        if isinstance(scope, str):
            scope = {"type": scope} if chat_id is None else {"type": scope, "chat_id": chat_id}
        return self.commands.get((self._scope_key(scope), language_code))

    def callback_answer(self, update_id: int) -> CallbackAnswer | None:
        return self._answers_by_update.get(update_id)

    def unanswered_callbacks(self) -> list[str]:
        """Callback query ids the bot never answered (users would see a spinner)."""
        return list(self._open_callbacks)

    async def wait_for_callback_answer(
        self,
        update_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
    ) -> CallbackAnswer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._answers_signal.current
            answer = self._answers_by_update.get(update_id)
            if answer is not None:
                return answer
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"the bot did not answer the callback query of update {update_id} "
                    f"within {timeout}s"
                )
            await _wait(signal, remaining)

    async def wait_sent(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - expiry must raise a descriptive AssertionError
    ) -> None:
        """Wait until ``len(sent) >= count`` (e.g. all messages of a broadcast went out)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.sent) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"only {len(self.sent)} of {count} messages sent after {timeout}s; "
                    f"last errors: {self.errors[-5:]}"
                )
            await _wait(self._sent_signal.current, remaining)

    def clear_observations(self) -> None:
        """Forget sent/requests/errors/deliveries (chat state stays), e.g. between bench phases."""
        self.sent.clear()
        self.requests.clear()
        self.errors.clear()
        self.injected_faults.clear()
        self.send_log.clear()
        self.webhook_deliveries.clear()
        self._counts.clear()

    def _describe_chat(self, chat: _Chat, limit: int = 10) -> str:
        messages = list(chat.bot_messages.values())[-limit:]
        lines = [f"last {len(messages)} bot message(s) in chat {chat.id}:"]
        lines += [f"  {m.summary()}" for m in messages] or ["  (none)"]
        recent_errors = [e for e in self.errors[-200:] if e.chat_id == chat.id][-5:]
        if recent_errors:
            lines.append("API calls for this chat that failed:")
            lines += [f"  {e.method}: {e.status} {e.description}" for e in recent_errors]
        if self.internal_errors:
            lines.append(f"double internal errors: {self.internal_errors[-3:]}")
        return "\n".join(lines)
