"""The Bot API double in a process of its own, so a benchmark's bot gets a core to itself.

The benchmark talks HTTP to it like to Telegram; over the child's stdin/stdout (one JSON
object per line) it can call the double's methods (faults, blocking) and, at the end,
fetch the log of the messages the double received.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Received:
    chat_id: int
    method: str
    timestamp: float


async def converse(
    double: Any,
    users: list[int],
    texts: list[str],
    *,
    think: tuple[float, float] = (0.0, 0.0),
    seed: int = 1,
    timeout: float = 30.0,  # noqa: ASYNC109 - a reply that never comes is a failed step
) -> dict[str, Any]:
    """Every user, at once, sends `texts` one after the other, each only after the bot's
    reply to the previous one (a new message from the bot, as a phone shows it), with a
    random pause of `think` seconds before each. Returns each step's latency (seconds from
    the user's message entering the update queue to the bot's reply arriving), the replies'
    visible text, and the wall-clock span of the whole run."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    replies: dict[int, list[str]] = {}
    failures: list[str] = []

    async def one(user_id: int, rng: random.Random) -> None:
        user = double.user(user_id)
        got = replies.setdefault(user_id, [])
        for text in texts:
            if think[1] > 0:
                await asyncio.sleep(rng.uniform(*think))
            started = loop.time()
            await user.send(text)
            sent_id = max(user._chat.user_messages)
            try:
                reply = await user.wait_for(
                    lambda m, after=sent_id: m.message_id > after, timeout=timeout, after=0
                )
            except AssertionError:
                failures.append(f"user {user_id}: no reply to {text!r} within {timeout}s")
                return
            latencies.append(loop.time() - started)
            got.append(reply.plain or "")

    started = loop.time()
    await asyncio.gather(
        *(one(uid, random.Random(seed * 100_003 + uid)) for uid in users)
    )
    return {
        "latencies": latencies,
        "replies": replies,
        "failures": failures,
        "span": loop.time() - started,
    }


async def open_reports(double: Any, users: list[int], first_question: str) -> list[str]:
    """Every user sends /report and presses the report's button in the list, as a principal
    starts filling in; returns what went wrong (nothing, normally)."""
    failures: list[str] = []

    async def one(user_id: int) -> None:
        user = double.user(user_id)
        try:
            await user.send("/report")
            listing = await user.wait_for(lambda m: bool(m.inline_keyboard), timeout=30)
            await user.press(listing, "📝")
            await user.wait_for(first_question, timeout=30)
        except AssertionError as exc:
            failures.append(f"user {user_id}: {str(exc).splitlines()[0]}")

    await asyncio.gather(*(one(uid) for uid in users))
    return failures


async def _serve() -> None:
    from tests.double import BotApiDouble

    loop = asyncio.get_running_loop()
    async with BotApiDouble(auto_create_chats=True) as double:
        print(json.dumps([double.token, double.base_url, double.base_file_url]), flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command, args, kwargs = json.loads(line)
            if command == "stop":
                print("null", flush=True)
                return
            if command == "sent":
                result: Any = [[m.chat_id, m.method, m.timestamp] for m in double.sent]
            elif command == "converse":
                result = await converse(double, *args, **kwargs)
            elif command == "open_reports":
                result = await open_reports(double, *args, **kwargs)
            else:
                result = getattr(double, command)(*args, **kwargs)
            print(json.dumps(result), flush=True)


class RemoteDouble:
    def __enter__(self) -> Self:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.remote_double"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.token, self.base_url, self.base_file_url = self._read()
        return self

    def _read(self) -> Any:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the double's process ended")
        return json.loads(line)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps([name, args, kwargs]) + "\n")
        self._process.stdin.flush()
        return self._read()

    def sent(self) -> list[Received]:
        return [Received(*row) for row in self.call("sent")]

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.call("stop")
        except (OSError, RuntimeError, ValueError):
            pass
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
