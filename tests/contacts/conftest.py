"""The contacts tests run the real bot against the Bot API double, as /status's do."""

from tests.status.conftest import status_bot

__all__ = ["status_bot"]
