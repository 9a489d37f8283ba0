"""A tiny round-robin reverse proxy: one address in front of several `huibao run`.

What nginx's `upstream` block does in production (docs/operations/several-processes.md),
in a few lines for the tests and the bench: each request goes to the next process in
turn, headers and body as they came (the secret token among them), and the process's
answer goes back only once it has answered. A process that refuses the connection is
skipped for the next one, as nginx's `proxy_next_upstream error` does.
"""

from __future__ import annotations

import itertools
from collections import Counter
from types import TracebackType
from typing import Self

from aiohttp import ClientConnectionError, ClientSession, ClientTimeout, web

# Hop-by-hop headers and those aiohttp sets itself.
_SKIP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class RoundRobinProxy:
    def __init__(self, upstreams: list[str], *, host: str = "127.0.0.1") -> None:
        self.upstreams = [u.rstrip("/") for u in upstreams]
        self.host = host
        self.port = 0
        # Requests each upstream answered (its address -> count).
        self.answered: Counter[str] = Counter()
        self._turn = itertools.cycle(range(len(self.upstreams)))
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        self._client = ClientSession(timeout=ClientTimeout(total=120))
        server = web.Application(client_max_size=10 * 1024 * 1024)
        server.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(server, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIP}
        for _ in self.upstreams:
            upstream = self.upstreams[next(self._turn)]
            try:
                async with self._client.request(
                    request.method, upstream + request.path_qs, data=body, headers=headers
                ) as response:
                    payload = await response.read()
            except ClientConnectionError:
                continue  # that process is down: the next one
            self.answered[upstream] += 1
            return web.Response(
                status=response.status,
                body=payload,
                content_type=response.content_type if payload else None,
            )
        return web.Response(status=502)
