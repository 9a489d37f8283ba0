"""Building the python-telegram-bot Application from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import (
    ApplicationBuilder,
    BaseHandler,
    BaseUpdateProcessor,
    ContextTypes,
    Defaults,
)
from telegram.request import BaseRequest

from bot import webhook
from bot.lifecycle import (
    load_form_folder,
    start_delivery,
    start_metrics,
    start_scheduler,
    stop_delivery,
    stop_metrics,
    stop_scheduler,
)
from config.logs import add_secret
from config.settings import Settings
from handlers import routing
from models.db import ChatTurns, create_engine, create_sessionmaker, is_sqlite, transaction
from models.roster.people import ensure_admins
from models.secrets import WEBHOOK_SECRET, shared_secret
from texts.commands import BASE_COMMANDS
from texts.i18n import LANGUAGES, gettext_for
from transport import metrics
from transport.context import HuibaoApp, HuibaoContext, Services
from transport.http import AiohttpRequest
from transport.limiter import build_rate_limiter

log = logging.getLogger("huibao.app")

StartupHook = Callable[[HuibaoApp], Awaitable[None]]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; one chat's updates run in order.

    Two quick answers from the same principal must be stored in the order given, while
    two hundred principals answering at once must not wait for each other.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        # Across processes too: PostgreSQL's per-chat lock, set in webhook mode (post_init).
        self.turns: ChatTurns | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                await self._in_turn(chat.id, coroutine)
        finally:
            self._users[chat.id] -= 1
            if self._users[chat.id] == 0:
                # Forget idle chats so a county's worth of principals costs no memory.
                del self._users[chat.id]
                self._locks.pop(chat.id, None)

    async def _in_turn(self, chat_id: int, coroutine: Awaitable[Any]) -> None:
        if self.turns is None:
            await coroutine
            return
        async with self.turns.turn(chat_id):
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        # After the Application stopped: no update is being handled any more.
        if self.turns is not None:
            await self.turns.close()
            self.turns = None


async def open_chat_turns(app: HuibaoApp, settings: Settings) -> None:
    """Several processes may serve one webhook only on PostgreSQL (SQLite's file is held
    by one, bot/cli): there each update also waits for its chat's turn."""
    processor = app.update_processor
    if (settings.telegram.mode != "webhook" or is_sqlite(settings.database.url)
            or not isinstance(processor, PerChatUpdateProcessor)):
        return
    # No more lock connections than updates Telegram posts at once, nor than the engine's
    # pool can serve transactions to (pool_size + overflow): beyond that updates would
    # only wait for the database, and PostgreSQL's max_connections (100 by default) is
    # shared by every process.
    size = min(settings.telegram.webhook.max_connections, 2 * settings.database.pool_size)
    turns = ChatTurns(settings.database.url, size)
    await turns.open()
    processor.turns = turns


def _logged(callback: Callable[..., Awaitable[Any]], name: str) -> Callable[..., Awaitable[Any]]:
    async def wrapper(update: object, context: HuibaoContext) -> Any:
        started = time.perf_counter()
        extra: dict[str, Any] = {"handler": name}
        if isinstance(update, Update):
            extra["update_id"] = update.update_id
            if update.effective_user:
                extra["user_id"] = update.effective_user.id
        try:
            return await callback(update, context)
        finally:
            seconds = time.perf_counter() - started
            metrics.UPDATES.inc()
            metrics.UPDATE_SECONDS.observe(seconds)
            extra["ms"] = round(seconds * 1000, 1)
            log.info("update handled", extra=extra)

    wrapper.__wrapped__ = callback  # type: ignore[attr-defined]
    return wrapper


def _wrap_handlers(app: HuibaoApp) -> None:
    def wrap(handler: BaseHandler[Any, Any, Any]) -> None:
        nested = getattr(handler, "handlers", None)
        if isinstance(nested, list):
            for inner in nested:
                wrap(inner)
            return
        callback = handler.callback
        name = f"{callback.__module__}.{callback.__qualname__}"
        handler.callback = _logged(callback, name)  # type: ignore[assignment]

    for group in app.handlers.values():
        for handler in group:
            wrap(handler)


async def set_base_commands(app: HuibaoApp) -> None:
    for language in LANGUAGES:
        _ = gettext_for(language)
        commands = [BotCommand(name, _(description)) for name, description in BASE_COMMANDS]
        await app.bot.set_my_commands(
            commands, language_code="zh" if language.startswith("zh") else "en"
        )
    _ = gettext_for(app.bot_data["services"].settings.bureau.default_language)
    await app.bot.set_my_commands(
        [BotCommand(name, _(description)) for name, description in BASE_COMMANDS]
    )


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
    startup_hooks: list[StartupHook] | None = None,
) -> HuibaoApp:
    """The Application with every capability's handlers; resources open in post_init."""

    async def post_init(app: HuibaoApp) -> None:
        engine = create_engine(
            settings.database.url,
            echo=settings.database.echo,
            pool_size=settings.database.pool_size,
        )
        services = Services(
            settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine)
        )
        app.bot_data["services"] = services
        load_form_folder(services)
        async with transaction(services.sessionmaker) as session:
            made = await ensure_admins(session, settings.bureau.admins)
        if made:
            log.info("admins from settings", extra={"telegram_ids": made})
        await set_base_commands(app)
        await open_chat_turns(app, settings)
        await start_delivery(app, services)
        await routing.on_startup(app)
        await start_scheduler(app, services)
        await start_metrics(services)
        for extra_hook in startup_hooks or []:
            await extra_hook(app)
        log.info("bot ready", extra={"username": app.bot.username})

    async def post_stop(app: HuibaoApp) -> None:
        # Before the bot's HTTP client closes: work that still sends (the outbox) stops here.
        await stop_delivery(app.bot_data["services"])

    async def post_shutdown(app: HuibaoApp) -> None:
        services: Services | None = app.bot_data.get("services")
        if services is not None:
            # Only does anything when the Application was stopped without post_stop (tests).
            await stop_delivery(services)
            await stop_scheduler(services)
            await stop_metrics(services)
            await services.engine.dispose()

    builder = (
        ApplicationBuilder()
        .token(settings.telegram.token)
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.bureau.tz))
        .context_types(ContextTypes(context=HuibaoContext))
        .concurrent_updates(PerChatUpdateProcessor(256))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
    )
    if rate_limiter:
        # RetryAfter is retried by the limiter itself, so no handler retries by hand; the
        # outbox worker asks it not to retry and reschedules the delivery instead.
        builder = builder.rate_limiter(build_rate_limiter(settings.delivery))  # type: ignore[arg-type]
    # aiohttp rather than PTB's default httpx: with a few hundred principals answering at
    # once, httpx's connection pool spends more CPU finding a free connection than the
    # whole answer step costs (bench/report_step.py).
    builder = builder.request(request or AiohttpRequest(connection_pool_size=64))
    builder = builder.get_updates_request(
        get_updates_request
        or AiohttpRequest(
            connection_pool_size=2, read_timeout=settings.telegram.poll_timeout + 10
        )
    )
    app: HuibaoApp = builder.build()
    # Every handler, its group and its order: handlers/routing.py. The logging wrapper
    # goes on every handler but the guard, which logs only what it stops, so "update
    # handled" stays one line per update.
    routing.register(app, wrap=_wrap_handlers)
    return app


async def webhook_secret(settings: Settings) -> str:
    """The configured secret, or the one made at the first start and kept in the database.

    Webhook mode never runs without one: anyone who can reach the port could otherwise
    post updates claiming to come from an admin. Every process behind the same address
    reads the same stored value, so each accepts what Telegram sends.
    """
    if settings.telegram.webhook.secret_token:
        return settings.telegram.webhook.secret_token
    engine = create_engine(settings.database.url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            return await shared_secret(session, WEBHOOK_SECRET)
    finally:
        await engine.dispose()


def run(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM, by long polling or by webhook."""
    app = build_application(settings)
    try:
        _serve(app, settings)
    except Exception:
        # PTB leaves its HTTP clients open when start-up fails, and their "unclosed"
        # warnings would follow the one line that says why.
        asyncio.run(_close_requests(app))
        raise


async def _close_requests(app: HuibaoApp) -> None:
    for request in app.bot._request:
        with contextlib.suppress(Exception):
            await request.shutdown()


def _serve(app: HuibaoApp, settings: Settings) -> None:
    if settings.telegram.mode == "webhook":
        hook = settings.telegram.webhook
        secret = asyncio.run(webhook_secret(settings))
        add_secret(secret)  # never in the logs, whatever logs the setWebhook call
        if not hook.url.startswith("https://"):
            log.warning(
                "telegram.webhook.url is not https: Telegram only posts to https addresses, "
                "and updates would cross the network unencrypted",
                extra={"url": hook.url},
            )
        # Our server, not PTB's: it checks X-Telegram-Bot-Api-Secret-Token (403 without
        # handling anything) and acknowledges an update only once it has been handled.
        asyncio.run(webhook.serve(app, hook, secret))
    else:
        app.run_polling(
            allowed_updates=Update.ALL_TYPES,
            timeout=settings.telegram.poll_timeout,
            poll_interval=0,
        )
