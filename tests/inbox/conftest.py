"""The inbox runs the real bot against the Bot API double, as the notices tests do."""

from tests.notices.conftest import bot

__all__ = ["bot"]
