"""The scheduler's seams to other capabilities, each behind one name.

- opening a round: the round service (`models.round_service.open_round`);
- the "start this report" button: the report conversation's callback data;
- the outbox: `models.outbox` (delivery rows sent by the delivery worker);
- the deadline summary's content: `bot.summary.build_summary` (text, charts, workbook).

The summary is a STAND-IN with the same signature until the status branch lands on main.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.outbox import Button, OutboxFile, Outgoing, OutMessage, enqueue
from models.people import School
from models.round_service import DuplicateRound, RoundError, open_round
from models.rounds import RoundSchool

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
    "wake_delivery",
]

# The delivery worker's key in Services.extra (handlers/delivery.py); looked up there
# rather than imported, since the scheduler does not depend on handlers.
OUTBOX_WORKER = "outbox"


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


def wake_delivery(services: Any) -> None:
    """Tell this process's delivery worker that rows are waiting (it also polls)."""
    worker = services.extra.get(OUTBOX_WORKER)
    wake = getattr(worker, "wake", None)
    if callable(wake):
        wake()


# --- summaries (status) ----------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """STAND-IN for bot.summary.Summary."""

    text_html: str
    chart_pngs: list[bytes] = field(default_factory=list)
    workbook: bytes = b""
    filename: str = "summary.xlsx"


async def build_summary(
    session: AsyncSession,
    round_id: int,
    language: str,
    district_id: int | None = None,
    now: datetime | None = None,
    *,
    settings: Any = None,
) -> Summary:
    """STAND-IN for bot.summary.build_summary: the reporting rate only."""
    from models.reminders import unsubmitted_school_ids

    query = select(RoundSchool.school_id).where(RoundSchool.round_id == round_id)
    if district_id is not None:
        query = query.join(School, School.id == RoundSchool.school_id).where(
            School.district_id == district_id
        )
    expected = set((await session.execute(query)).scalars())
    missing = expected & set(await unsubmitted_school_ids(session, round_id))
    done = len(expected) - len(missing)
    return Summary(text_html=f"{done} / {len(expected)}")
