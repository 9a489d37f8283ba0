"""Recurring rounds: the tick opens the round of each schedule occurrence that is due.

Each occurrence is claimed once (`schedule_occurrences`) in the transaction that opens its
round and tells staff, so two processes never open it twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import transaction
from models.followup import reminders
from models.followup.reminders import Policy
from models.forms import FormDef, FormError, load_forms
from models.rounds import Round
from models.rounds.announce import tell_staff_opened
from models.rounds.errors import DuplicateRound, RoundError
from models.rounds.lifecycle import open_round
from models.rounds.schedules import (
    Occurrence,
    OccurrenceOutcome,
    Schedule,
    ScheduleOccurrence,
    active_schedules,
    claim_occurrence,
    latest_occurrence,
    occurrence_recorded,
)
from scheduler.tick_base import TickerBase, TickResult
from texts.rounds import schedule_opened_for

log = logging.getLogger("huibao.scheduler")

class ScheduleOpenings(TickerBase):
    """The part of Ticker that opens rounds from schedules."""

    async def _open_schedules(self, now: datetime, result: TickResult) -> None:
        async with transaction(self.sessionmaker) as session:
            schedules = await active_schedules(session)
            todo = []
            for schedule in schedules:
                occurrence = latest_occurrence(schedule, now, self.tz)
                if occurrence is None:
                    continue
                if not await occurrence_recorded(session, schedule.id, occurrence.period):
                    todo.append((schedule, occurrence))
        if not todo:
            return
        forms = self._forms()
        for schedule, occurrence in todo:
            async with transaction(self.sessionmaker) as session:
                claimed = await claim_occurrence(session, schedule, occurrence, now)
                if claimed is not None:
                    await self._open_occurrence(
                        session, schedule, occurrence, claimed, forms, now, result
                    )

    async def _open_occurrence(
        self,
        session: AsyncSession,
        schedule: Schedule,
        occurrence: Occurrence,
        claimed: ScheduleOccurrence,
        forms: dict[str, FormDef] | str,
        now: datetime,
        result: TickResult,
    ) -> None:
        """Open the round of an occurrence just claimed, or record why not."""
        name = f"{schedule.form_code} {occurrence.period}"
        if occurrence.deadline <= now:
            claimed.outcome = OccurrenceOutcome.MISSED.value
            claimed.detail = "the deadline passed before the round could open"
            result.missed.append(f"schedule {schedule.id} {occurrence.period}")
            log.warning(
                "schedule occurrence missed",
                extra={"schedule_id": schedule.id, "period": occurrence.period},
            )
            return
        form = forms.get(schedule.form_code) if isinstance(forms, dict) else None
        if form is None:
            claimed.outcome = OccurrenceOutcome.FAILED.value
            claimed.detail = (
                forms if isinstance(forms, str) else f"no form {schedule.form_code!r}"
            )
            result.failed.append(name)
            log.error(
                "schedule could not open its round",
                extra={"schedule_id": schedule.id, "detail": claimed.detail},
            )
            return
        existing = (
            await session.execute(
                select(Round.id).where(
                    Round.form_code == form.code, Round.period == occurrence.period
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            # Staff opened this period by hand; the schedule leaves it be.
            claimed.outcome = OccurrenceOutcome.EXISTS.value
            claimed.round_id = existing
            return
        try:
            async with session.begin_nested():
                round_ = await self._open(session, schedule, form, occurrence, now)
        except DuplicateRound as error:
            # Opened by hand under another spelling of the period (2026 秋季学期).
            claimed.outcome = OccurrenceOutcome.EXISTS.value
            claimed.round_id = error.round_id
            return
        except RoundError as error:
            claimed.outcome = OccurrenceOutcome.FAILED.value
            claimed.detail = str(error)
            result.failed.append(name)
            log.error(
                "schedule could not open its round",
                extra={"schedule_id": schedule.id, "detail": str(error)},
            )
            return
        claimed.round_id = round_.id
        await self._tell_staff(session, schedule, round_)
        result.opened.append(f"{name} → round {round_.id}")
        log.info(
            "round opened by schedule",
            extra={
                "schedule_id": schedule.id,
                "round_id": round_.id,
                "period": occurrence.period,
            },
        )

    async def _tell_staff(self, session: AsyncSession, schedule: Schedule, round_: Round) -> None:
        """Staff learn of the opening in its transaction, so that a round never opens
        unseen: the schedule's maker, or every staff member (models.rounds.announce)."""
        try:
            announced = Policy.from_mapping(schedule.policy_overrides, self.defaults).on_open
        except ValueError:  # read as the reminders read it (load_policies)
            announced = self.defaults.on_open
        await tell_staff_opened(
            session, round_, schedule.created_by, announced, schedule_opened_for(self.settings)
        )

    def _forms(self) -> dict[str, FormDef] | str:
        """The latest version of each form, or why they cannot be read."""
        try:
            registry = load_forms(self.forms_dir or Path(self.settings.forms.directory))
        except FormError as error:
            return str(error).splitlines()[0]
        return {form.code: form for form in registry.latest()}

    async def _open(
        self,
        session: AsyncSession,
        schedule: Schedule,
        form: FormDef,
        occurrence: Occurrence,
        now: datetime,
    ) -> Round:
        audience = schedule.audience_filter
        round_ = await open_round(
            session,
            form=form,
            period=occurrence.period,
            deadline=occurrence.deadline,
            grace_minutes=occurrence.grace_minutes,
            lock_at=occurrence.lock_at,
            districts=audience.get("districts") or None,
            stages=audience.get("stages") or None,
            now=now,
        )
        await reminders.set_round_policy(
            session, round_.id, schedule.policy_overrides, schedule_id=schedule.id
        )
        return round_
