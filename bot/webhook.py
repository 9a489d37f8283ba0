"""Webhook mode: Huibao's own small HTTP server in front of the Application.

PTB's built-in webhook server answers Telegram with 200 as soon as an update is queued,
before it is handled. With several processes behind one address (docs/operations/
several-processes.md) that breaks one chat's order: Telegram (or the proxy, retrying)
may then post the chat's next update to another process while the first is still being
handled. Here the answer is given only after the update has been handled, so Telegram,
which sends a chat's next update only after the previous one was acknowledged, never has
two of one chat in flight; PostgreSQL's per-chat lock (models/db.py ChatTurns) covers
what is left (a retry of an update whose answer was lost, a proxy that tries again).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal

from aiohttp import web
from telegram import Update

from config.settings import WebhookSettings
from transport.context import HuibaoApp

log = logging.getLogger("huibao.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# How long a stopping process lets updates it is handling finish before it closes.
GRACE_SECONDS = 10.0


def webhook_address(hook: WebhookSettings) -> str:
    return hook.url.rstrip("/") + "/" + hook.path.lstrip("/")


class WebhookServer:
    """POST /<path>: the secret checked, the update handled, then 200."""

    def __init__(self, app: HuibaoApp, hook: WebhookSettings, secret: str) -> None:
        self.app = app
        self.hook = hook
        self.secret = secret.encode()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        server = web.Application(client_max_size=10 * 1024 * 1024)
        server.router.add_post("/" + self.hook.path.lstrip("/"), self.receive)
        self._runner = web.AppRunner(
            server, access_log=None, shutdown_timeout=GRACE_SECONDS, handle_signals=False
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.hook.listen, self.hook.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # waits for the updates being handled
            self._runner = None

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            # Nothing handled, nothing stored: anyone who can reach the port could
            # otherwise post updates claiming to come from an admin.
            return web.Response(status=403)
        try:
            update = Update.de_json(json.loads(await request.read()), self.app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("webhook post is not an update", extra={"error": str(exc)})
            return web.Response(status=400)
        processor = self.app.update_processor
        # The same path as PTB's own fetcher: one chat in order (bot/app.py), PTB's error
        # handlers for what a handler raises. A failure here (the database gone) is a 500,
        # so Telegram posts the update again.
        await processor.process_update(update, self.app.process_update(update))
        return web.Response(status=200)


async def serve(app: HuibaoApp, hook: WebhookSettings, secret: str) -> None:
    """Start the Application, tell Telegram the address, serve until SIGINT/SIGTERM.

    The same order as PTB's run_webhook (initialize, post_init, serve, start; then stop,
    post_stop, shutdown, post_shutdown). The webhook is left set on the way out: other
    processes behind the same address go on serving it."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    server = WebhookServer(app, hook, secret)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await server.start()
        await app.bot.set_webhook(
            webhook_address(hook),
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
            max_connections=hook.max_connections,
        )
        await app.start()
        log.info("webhook serving", extra={"listen": hook.listen, "port": hook.port})
        await stopping.wait()
    finally:
        await _stop(app, server)


async def _stop(app: HuibaoApp, server: WebhookServer) -> None:
    await server.stop()
    if app.running:
        await app.stop()
        # As PTB: post_stop only after a stop (post_init may have failed before start).
        if app.post_stop is not None:
            await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
