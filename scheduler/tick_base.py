"""What every part of the tick shares: its result, its settings and how it logs a missed slot.

`Ticker` (scheduler/tick.py) is put together from the parts in scheduler/tick_openings.py
(recurring rounds) and scheduler/tick_summaries.py (summaries); this is their common base.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.followup.reminders import Policy, QuietHours, Slot
from models.roster.tables import District, Person
from models.rounds import Round
from texts.i18n import language_of

log = logging.getLogger("huibao.scheduler")

@dataclass
class TickResult:
    """What one tick did (for logs and tests)."""

    # A round's life: reminders, overdue escalations, deadline summaries, openings.
    reminders: int = 0
    escalations: int = 0
    summaries: int = 0
    opened: list[str] = field(default_factory=list)
    # Slots skipped because they were due longer ago than the misfire grace, and failures.
    missed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # The reminders of the other capabilities.
    notice_reminders: int = 0
    inbox_reminders: int = 0
    review_reminders: int = 0

    @property
    def sent_anything(self) -> bool:
        return bool(
            self.opened or self.reminders or self.escalations or self.summaries
            or self.notice_reminders or self.inbox_reminders or self.review_reminders
        )


async def district_names(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(District.id, District.name).where(District.id.in_(ids)))
    return {district_id: name for district_id, name in rows.all()}


class TickerBase:
    """The state one Ticker holds (set in Ticker.__init__), declared for its parts."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    forms_dir: Path | None
    tz: ZoneInfo
    quiet: QuietHours
    defaults: Policy
    misfire_grace: timedelta

    def _language(self, person: Person) -> str:
        return language_of(person, self.settings.bureau.default_language)

    def _log_missed(
        self, missed: Sequence[tuple[Round, Slot]], now: datetime, result: TickResult
    ) -> None:
        grace_hours = self.settings.reminders.misfire_grace_hours
        for round_, slot in missed:
            result.missed.append(f"round {round_.id} {slot.key}")
            late_hours = round((now - slot.send_at).total_seconds() / 3600, 2)
            log.warning("slot missed: skipped", extra={
                "round_id": round_.id, "slot": slot.key, "due": slot.send_at.isoformat(),
                "late_hours": late_hours, "grace_hours": grace_hours,
            })
