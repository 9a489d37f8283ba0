"""Webhook delivery: posting updates to the bot's address, in order per chat, with retries."""

from __future__ import annotations

import asyncio
import bisect
import json
import time

from aiohttp import ClientError

from tests.double.internals import _update_chat_id, _Webhook
from tests.double.protocol import JSONDict, _log


class WebhookDelivery:
    """Part of BotApiDouble: pushing updates to a webhook."""

    # -- webhook delivery -----------------------------------------------------------------

    async def _webhook_loop(self) -> None:
        while not self._closing and self._webhook is not None:
            signal = self._updates_signal.current
            while self._pending and self._webhook is not None:
                update = self._pending.popleft()
                if self._is_allowed(update):
                    self._spawn_delivery(update)
            await signal.wait()

    def _spawn_delivery(self, update: JSONDict) -> None:
        # Updates of one chat are delivered in order, different chats concurrently (up to
        # max_connections), as Telegram does.
        chat_key = _update_chat_id(update)
        previous = self._webhook_tails.get(chat_key)
        task = asyncio.create_task(self._deliver(update, previous))
        self._webhook_tails[chat_key] = task
        self._webhook_tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._webhook_tasks.discard(finished)
            if self._webhook_tails.get(chat_key) is finished:
                del self._webhook_tails[chat_key]

        task.add_done_callback(done)

    async def _deliver(self, update: JSONDict, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        hook = self._webhook
        if hook is None:
            self._requeue(update)
            return
        delay = self.webhook_retry_delay
        async with hook.slots:
            for attempt in range(1, self.webhook_max_attempts + 1):
                if self._webhook is not hook:
                    self._requeue(update)
                    return
                status = await self._post_update(hook, update)
                self.webhook_deliveries.append(status)
                if 200 <= status < 300:
                    return
                hook.last_error_date = int(time.time())
                hook.last_error_message = (
                    f"Wrong response from the webhook: {status}" if status else "Connection refused"
                )
                if attempt < self.webhook_max_attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 1.0)
        _log.warning(
            "dropping update %s after %d failed webhook deliveries",
            update["update_id"],
            self.webhook_max_attempts,
        )

    async def _post_update(self, hook: _Webhook, update: JSONDict) -> int:
        if self._session is None:
            return 0
        headers = {"Content-Type": "application/json"}
        if hook.secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                hook.url, data=json.dumps(update), headers=headers
            ) as response:
                await response.read()
                return response.status
        except (ClientError, TimeoutError, OSError):
            return 0

    def _requeue(self, update: JSONDict) -> None:
        ids = [u["update_id"] for u in self._pending]
        self._pending.insert(bisect.bisect(ids, update["update_id"]), update)
        self._updates_signal.fire()
