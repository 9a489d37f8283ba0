"""A stand-in for the Telegram Bot API, served over real HTTP on localhost.

python-telegram-bot reaches it unmodified through ``base_url``/``base_file_url``, so tests and
benchmarks exercise the same request encoding, error mapping, polling and webhook code as in
production while Telegram itself is unreachable.

Typical use::

    async with BotApiDouble() as tg:
        app = (ApplicationBuilder().token(tg.token).base_url(tg.base_url)
               .base_file_url(tg.base_file_url).build())
        ...
        alice = tg.user(1001)
        await alice.send("/start")
        reply = await alice.wait_for("欢迎")      # only replies after the last user action
        await alice.press(reply, "确认")
        await alice.wait_for(lambda m: m.edited)

Run ``python -m tests.double --port 8081`` to serve it standalone.

The modules: protocol (limits, error texts, field decoding), formatting (HTML and
MarkdownV2 to entities), records (files, messages, callback answers), internals (chats,
parameters, flood buckets), users (fake people), server (BotApiDouble: state, life cycle,
faults, observation), requests (HTTP plumbing and shared checks), methods (the Bot API
methods), webhook (delivery to a webhook), repl (standalone mode).
"""

from tests.double.formatting import html_to_entities, utf16_len
from tests.double.internals import _Chat
from tests.double.protocol import ApiCallError, ApiError
from tests.double.records import CallbackAnswer, SentMessage, StoredFile
from tests.double.server import BotApiDouble
from tests.double.users import FakeGroupMember, FakeUser

__all__ = [
    "ApiCallError",
    "ApiError",
    "BotApiDouble",
    "CallbackAnswer",
    "FakeGroupMember",
    "FakeUser",
    "SentMessage",
    "StoredFile",
    "_Chat",
    "html_to_entities",
    "utf16_len",
]
