"""/metrics and /healthz beside the running bot (metrics.port set)."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import aiohttp

from tests.inbox.test_inbox import STAFF_ID, seed
from tests.notices.conftest import Sessions, bot  # noqa: F401 - the fixture


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def value(text: str, name: str) -> float:
    """A sample's value; 0 for a labelled counter not yet counted in this process."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_updates_and_deliveries_and_health_answers(
    bot: Any, sessionmaker: Sessions  # noqa: F811
) -> None:
    principal_id, *_ = await seed(sessionmaker)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with bot(HUIBAO_METRICS__PORT=str(port)) as running, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/metrics") as response:
            before = await response.text()
        principal = running.tg.user(principal_id, "校长1")
        staff = running.tg.user(STAFF_ID, "王科长")
        await principal.send("/ask 请问截止时间？")
        await principal.wait_for("已发给")
        await staff.wait_for("📩")
        sent = 'huibao_deliveries_total{outcome="sent"}'
        # The worker counts a delivery once its outcome is recorded, just after Telegram
        # took it: ask again for a moment.
        for _ in range(50):
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                after = await response.text()
            if value(after, sent) > value(before, sent):
                break
            await asyncio.sleep(0.1)
        async with http.get(f"{base}/healthz") as response:
            assert (response.status, await response.text()) == (200, "ok\n")
    assert value(after, "huibao_updates_handled_total") >= (
        value(before, "huibao_updates_handled_total") + 1)
    assert value(after, sent) >= value(before, sent) + 1  # the question told staff
    assert value(after, "huibao_scheduler_leader") == 1
    assert re.search(r"^huibao_outbox_waiting \d", after, re.M)
