"""The contacts tests run the real bot against the Bot API double, as /status's do, and
the scheduler's tick with a controlled clock, as the schedule tests do."""

from tests.schedule.conftest import county, outbox, settings, ticker
from tests.status.conftest import status_bot

__all__ = ["county", "outbox", "settings", "status_bot", "ticker"]
