"""The scheduler's seams to other capabilities, each behind one name.

- opening a round: the round service (`models.round_service.open_round`);
- the "start this report" button: the report conversation's callback data;
- the outbox: `models.outbox` (delivery rows sent by the delivery worker);
- the deadline summary's content: `outputs.summary.build_summary` (text, charts, workbook).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import Button, OutboxFile, Outgoing, OutMessage, enqueue
from models.round_service import DuplicateRound, RoundError, open_round
from outputs.summary import Summary, build_summary

__all__ = [
    "Button",
    "DuplicateRound",
    "OutMessage",
    "Outgoing",
    "RoundError",
    "Summary",
    "build_summary",
    "enqueue",
    "open_round",
    "start_callback",
    "store_file",
]

def start_callback(round_id: int) -> str:
    """Callback data that opens the school's report of a round in the report
    conversation (handlers/report_view.py: "rp:o:<round id>")."""
    return f"rp:o:{round_id}"


async def store_file(session: AsyncSession, name: str, mime_type: str, content: bytes) -> int:
    """Keep a file for the outbox to upload once (later sends reuse Telegram's file id)."""
    row = OutboxFile(name=name, mime_type=mime_type, content=content)
    session.add(row)
    await session.flush()
    return row.id
