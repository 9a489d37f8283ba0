"""Running the real `huibao` command as a subprocess against the Bot API double."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def huibao_command() -> list[str]:
    script = Path(sys.executable).parent / "huibao"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


class BotProcess:
    """A `huibao run` child process whose stderr (the JSON log) is kept for assertions."""

    def __init__(self, env: dict[str, str], cwd: Path, args: list[str] | None = None) -> None:
        self.env = env
        self.cwd = cwd
        self.args = args or ["run"]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = cwd / f"huibao-{time.monotonic_ns()}.log"

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*huibao_command(), *self.args],
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if '"bot ready"' in self.log:
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"huibao exited early:\n{self.log}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"huibao not ready after {within}s:\n{self.log}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    async def astop(self, sig: int = signal.SIGTERM) -> int:
        """Stop without blocking the event loop, which the double in the test also runs on."""
        return await asyncio.to_thread(self.stop, sig)

    def __enter__(self) -> BotProcess:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()

    async def __aenter__(self) -> BotProcess:
        self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            await self.astop()


def child_env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env
