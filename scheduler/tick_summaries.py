"""Summaries: the tick sends each round's summary slot to staff and district officers.

Charts and workbooks are stored once in the outbox's files and sent with the summary text.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.db import transaction
from models.followup import reminders
from models.followup.reminders import ClaimedSlot, Slot, SlotOutcome
from models.outbox import OutboxFile, Outgoing, OutMessage, enqueue
from models.roster.tables import Person
from models.rounds import Round
from outputs.summary import build_summary
from scheduler.tick_base import TickerBase, TickResult, district_names
from texts.reminders import summary_header, summary_messages

log = logging.getLogger("huibao.scheduler")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Summaries(TickerBase):
    """The part of Ticker that builds and sends summaries."""

    async def _summary(self, round_: Round, slot: Slot, now: datetime, result: TickResult) -> None:
        """One summary slot in a transaction of its own: building charts and workbooks
        can fail, and a failure must hold back neither reminders nor other summaries. A
        failed one is tried again each tick until the misfire grace runs out."""
        try:
            async with transaction(self.sessionmaker) as session:
                plan = await reminders.claim_slots(
                    session, [(round_, slot)], now=now, misfire_grace=self.misfire_grace
                )
                self._log_missed(plan.missed, now, result)
                for claim in plan.claimed:
                    sent = await self._send_summary(session, claim, now)
                    result.summaries += sent
                    if not sent:
                        await reminders.mark_slot(session, round_.id, slot.key, SlotOutcome.NOTHING)
        except Exception:
            result.failed.append(f"round {round_.id} {slot.key}")
            log.exception(
                "summary failed; will retry", extra={"round_id": round_.id, "slot": slot.key}
            )

    async def _send_summary(self, session: AsyncSession, claim: ClaimedSlot, now: datetime) -> int:
        round_ = claim.round
        district_ids = await reminders.round_district_ids(session, round_.id)
        officers = await reminders.district_officers(session, district_ids)
        recipients: list[tuple[Person, int | None]] = [
            (person, None) for person in await reminders.staff_members(session)
        ]
        recipients += [(p, d) for d in district_ids for p in officers.get(d, [])]
        if not recipients:
            return 0
        names = await district_names(session, district_ids)
        titles = (await reminders.form_titles(session, [round_]))[round_.id]
        built: dict[tuple[str, int | None], tuple[OutMessage, ...]] = {}
        items = []
        for person, district_id in recipients:
            language = self._language(person)
            key = (language, district_id)
            if key not in built:
                summary = await build_summary(
                    session, round_.id, language, district_id, now, settings=self.settings
                )
                charts = [
                    await store_file(session, f"chart-{n + 1}.png", "image/png", png)
                    for n, png in enumerate(summary.chart_pngs)
                ]
                workbook = (
                    await store_file(session, summary.filename, XLSX, summary.workbook)
                    if summary.workbook
                    else None
                )
                header = summary_header(
                    language=language,
                    at_deadline=reminders.is_deadline_summary(claim.slot),
                    titles=titles,
                    period=round_.period,
                    deadline=round_.deadline,
                    now=now,
                    tz=self.tz,
                    district=names.get(district_id) if district_id is not None else None,
                )
                built[key] = summary_messages(
                    language=language,
                    header=header,
                    text_html=summary.text_html,
                    chart_ids=charts,
                    workbook_id=workbook,
                    filename=summary.filename,
                )
            items.append(Outgoing(person.telegram_id, person.id, built[key]))
        return await enqueue(session, f"summary:{round_.id}:{claim.slot.key}", items)


async def store_file(session: AsyncSession, name: str, mime_type: str, content: bytes) -> int:
    """Keep a file for the outbox to upload once (later sends reuse Telegram's file id)."""
    row = OutboxFile(name=name, mime_type=mime_type, content=content)
    session.add(row)
    await session.flush()
    return row.id
