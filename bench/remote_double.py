"""The Bot API double in a process of its own, so a benchmark's bot gets a core to itself.

The benchmark talks HTTP to it like to Telegram; over the child's stdin/stdout (one JSON
object per line) it can call the double's methods (faults, blocking) and, at the end,
fetch the log of the messages the double received.
"""

from __future__ import annotations

import asyncio
import json
import os
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


async def _serve() -> None:
    from tests.botapi_double import BotApiDouble

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
