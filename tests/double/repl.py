"""Standalone mode: serve the double on a port and type updates at a console."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from tests.double.records import SentMessage
from tests.double.server import BotApiDouble

_REPL_HELP = """\
commands:
  <user_id> <text>                      send text (e.g. "1001 /start hello") as that user
  press <user_id> <message_id> <button> press an inline button (text or callback_data)
  doc <user_id> <path>                  send a local file as a document
  block <user_id> | unblock <user_id>   make sends to that chat fail with 403
  quit"""


def _print_message(message: SentMessage) -> None:
    verb = "edited" if message.edited else "sent"
    print(f"[bot {verb} → {message.chat_id}] {message.summary(width=400)}", flush=True)


async def _repl(double: BotApiDouble) -> bool:
    """Read console commands; return True if asked to quit, False once stdin is closed."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return False
        line = line.strip()
        if line == "quit":
            return True
        if not line:
            continue
        try:
            await _repl_command(double, line)
        except (AssertionError, ValueError, OSError, KeyError) as exc:
            print(f"! {exc}", flush=True)


async def _repl_command(double: BotApiDouble, line: str) -> None:
    head, _, rest = line.partition(" ")
    if head == "press":
        user_id, message_id, button = rest.split(" ", 2)
        await double.user(int(user_id)).press(int(message_id), button)
    elif head == "doc":
        user_id, path = rest.split(" ", 1)
        file = Path(path)
        content = await asyncio.get_running_loop().run_in_executor(None, file.read_bytes)
        await double.user(int(user_id)).send_document(content, file.name)
    elif head in ("block", "unblock"):
        (double.block if head == "block" else double.unblock)(int(rest))
    elif head.isdigit():
        await double.user(int(head)).send(rest)
    else:
        print(_REPL_HELP, flush=True)


async def _serve(args: argparse.Namespace) -> None:
    double = BotApiDouble(
        token=args.token,
        bot_username=args.username,
        host=args.host,
        port=args.port,
        auto_create_chats=True,
    )
    double.on_message = _print_message
    async with double:
        print(f"base_url      {double.base_url}", flush=True)
        print(f"base_file_url {double.base_file_url}", flush=True)
        print(f"token         {double.token}", flush=True)
        print(_REPL_HELP, flush=True)
        if not await _repl(double):
            await asyncio.Event().wait()  # no console (stdin closed): serve until interrupted


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Telegram Bot API double.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--username", default="huibao_test_bot")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every API call")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
