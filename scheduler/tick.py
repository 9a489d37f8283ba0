"""One look at the clock: open due rounds, send due reminders, escalations and summaries.

`Ticker.run(now)` recomputes everything that is due from the database, so its result
never depends on what a process remembers: jobs only decide when it runs. Whatever it
sends goes into the outbox in the same transaction as the once-only records
(`round_slots`, `reminder_log`, `schedule_occurrences`), so running it twice, after a
restart or in two processes at once, sends each reminder once.

Its parts: recurring rounds in scheduler/tick_openings.py, summaries in
scheduler/tick_summaries.py, what they share in scheduler/tick_base.py; notices', inbox
and review reminders in scheduler/notice_reminders.py and its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from models.db import transaction
from models.followup import reminders
from models.followup.keytotals import round_form
from models.followup.reminders import (
    ClaimedSlot,
    Policy,
    QuietHours,
    Recipients,
    SlotKind,
    SlotOutcome,
)
from models.followup.reminders.reminder_log import PendingReport
from models.forms import FormError
from models.outbox import Outgoing, OutMessage, enqueue
from models.roster.order import by_name
from models.roster.phones import Callee, phones_for
from models.roster.strangers import prune_strangers
from models.roster.tables import Person, School
from models.rounds.schedules import active_schedules, next_opening
from scheduler import inbox_reminders, notice_reminders, review_reminders
from scheduler.tick_base import TickResult, district_names
from scheduler.tick_openings import ScheduleOpenings
from scheduler.tick_summaries import Summaries
from texts.reminders import escalation_message, reminder_message
from texts.rounds import announcement
from transport import metrics

log = logging.getLogger("huibao.scheduler")

# Strangers are pruned at night (bureau time), PRUNE_BATCH at a time, at most
# PRUNE_BATCH x PRUNE_BATCHES a night; the rest wait for the next night.
PRUNE_AT = time(3, 0)
PRUNE_BATCH = 10
PRUNE_BATCHES = 100


def policy_defaults(settings: Settings) -> Policy:
    return Policy.from_mapping(settings.reminders.model_dump())


def quiet_hours(settings: Settings) -> QuietHours:
    q = settings.quiet_hours
    return QuietHours(start=q.start, end=q.end, enabled=q.enabled)


class Ticker(ScheduleOpenings, Summaries):
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        forms_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.forms_dir = forms_dir
        self.tz = settings.bureau.tz
        self.quiet = quiet_hours(settings)
        self.defaults = policy_defaults(settings)
        self.misfire_grace = timedelta(hours=settings.reminders.misfire_grace_hours)
        # One tick at a time per process: exact-time jobs and the periodic tick may fire
        # together, and SQLite cannot take two writers from one process gracefully.
        self._lock = asyncio.Lock()
        self._pruned_on: date | None = None

    # --- the tick ----------------------------------------------------------------------

    async def run(self, now: datetime) -> TickResult:
        async with self._lock:
            result = TickResult()
            await self._open_schedules(now, result)
            async with transaction(self.sessionmaker) as session:
                due = await reminders.due_slots(
                    session, now=now, tz=self.tz, quiet=self.quiet, defaults=self.defaults
                )
            to_people = [(r, s) for r, s in due if s.kind is not SlotKind.SUMMARY]
            if to_people:
                async with transaction(self.sessionmaker) as session:
                    plan = await reminders.claim_slots(
                        session, to_people, now=now, misfire_grace=self.misfire_grace
                    )
                    self._log_missed(plan.missed, now, result)
                    await self._remind(session, plan.claimed, now, result)
            for round_, slot in due:
                if slot.kind is SlotKind.SUMMARY:
                    await self._summary(round_, slot, now, result)
            result.notice_reminders = await notice_reminders.send_due(
                self.settings, self.sessionmaker, now
            )
            result.inbox_reminders = await inbox_reminders.send_due(
                self.settings, self.sessionmaker, now
            )
            result.review_reminders = await review_reminders.send_due(
                self.settings, self.sessionmaker, now
            )
            await self._prune_strangers(now)
            for kind, amount in (("reminder", result.reminders),
                                 ("escalation", result.escalations),
                                 ("summary", result.summaries),
                                 ("notice_reminder", result.notice_reminders),
                                 ("inbox_reminder", result.inbox_reminders),
                                 ("review_reminder", result.review_reminders)):
                metrics.count_tick(kind, amount)
            if result.sent_anything or result.missed:
                log.info(
                    "scheduler tick",
                    extra={
                        "opened": result.opened,
                        "reminders": result.reminders,
                        "escalations": result.escalations,
                        "summaries": result.summaries,
                        "missed": result.missed,
                    },
                )
            return result

    async def _prune_strangers(self, now: datetime) -> None:
        """Once a bureau day, at the first tick after PRUNE_AT: forget strangers who wrote
        to the bot but never joined (models/roster/strangers.py), in small transactions so that
        SQLite's writer lock is never held long."""
        local = now.astimezone(self.tz)
        if local.time() < PRUNE_AT or self._pruned_on == local.date():
            return
        self._pruned_on = local.date()
        removed = 0
        try:
            for _batch in range(PRUNE_BATCHES):
                async with transaction(self.sessionmaker) as session:
                    done = await prune_strangers(session, now, limit=PRUNE_BATCH)
                removed += done
                if done < PRUNE_BATCH:
                    break
        except Exception:
            log.exception("pruning strangers failed; trying again tomorrow")
        if removed:
            log.info("strangers pruned", extra={"count": removed})

    # --- reminders and escalations -----------------------------------------------------

    async def _remind(
        self,
        session: AsyncSession,
        claimed: Sequence[ClaimedSlot],
        now: datetime,
        result: TickResult,
    ) -> None:
        by_school: dict[int, list[ClaimedSlot]] = defaultdict(list)
        escalations: list[ClaimedSlot] = []
        for claim in claimed:
            if claim.slot.kind is SlotKind.ESCALATION:
                escalations.append(claim)
                continue
            for school_id in claim.school_ids:
                by_school[school_id].append(claim)
        records: list[Recipients] = []
        # One enqueue per purpose: a chat belongs to one school, and each school's first
        # (round, slot) is claimed once, so (purpose, chat) stays unique per reminder.
        outgoing: dict[str, list[Outgoing]] = defaultdict(list)
        if by_school:
            school_ids = sorted(by_school)
            contacts = await reminders.school_contacts(session, school_ids)
            pending = await reminders.pending_reports(session, school_ids, now)
            rounds = {r.round.id: r.round for reports in pending.values() for r in reports}
            titles = await reminders.form_titles(session, rounds.values())
            schools = await session.scalars(select(School).where(School.id.in_(school_ids)))
            school_of = {school.id: school for school in schools}
            for school_id in school_ids:
                claims = sorted(by_school[school_id], key=lambda c: (c.round.id, c.slot.key))
                people = contacts.get(school_id, [])
                first = claims[0]
                purpose = f"reminder:{first.round.id}:{first.slot.key}"
                claimed_rounds = {c.round.id for c in claims}
                reports = [
                    r
                    for r in pending.get(school_id, [])
                    if r.open_for_entry or r.round.id in claimed_rounds
                ]
                messages = await self._messages(
                    session, school_of[school_id], claims, reports, titles, now
                )
                items = [
                    Outgoing(
                        chat_id=person.telegram_id, person_id=person.id, messages=messages(person)
                    )
                    for person in people
                ]
                if reports and items:
                    outgoing[purpose] += items
                else:
                    people = []
                records += [
                    Recipients(c.log_ids[school_id], [p.id for p in people], purpose)
                    for c in claims
                ]
        for purpose, items in outgoing.items():
            result.reminders += await enqueue(session, purpose, items)
        for claim in escalations:
            records += await self._escalate(session, claim, result)
        await reminders.record_recipients(session, records)
        told = {r.log_id for r in records if r.people}
        for claim in claimed:
            if not told & set(claim.log_ids.values()):
                await reminders.mark_slot(
                    session, claim.round.id, claim.slot.key, SlotOutcome.NOTHING
                )

    async def _messages(
        self,
        session: AsyncSession,
        school: School,
        claims: Sequence[ClaimedSlot],
        reports: Sequence[PendingReport],
        titles: Mapping[int, Mapping[str, str]],
        now: datetime,
    ) -> Callable[[Person], tuple[OutMessage, ...]]:
        """What a school's contacts get for the slots claimed for it: the announcement of
        each round that opened (texts.rounds.announcement, the words of a round opened in
        chat: that report only), then, for the other slots due at the same time, one
        reminder listing every other report the school owes (texts.reminders)."""
        opened_ids = {c.round.id for c in claims if c.slot.kind is SlotKind.OPEN}
        other_kinds: set[SlotKind] = {c.slot.kind for c in claims} - {SlotKind.OPEN}
        forms = []
        for report in reports:
            if not (report.open_for_entry and report.round.id in opened_ids):
                continue
            try:
                forms.append((await round_form(session, report.round), report.round))
            except (FormError, KeyError):
                forms = []  # an unreadable form version: the reminder names it by its code
                break
        if not forms:
            return self._reminder({c.slot.kind for c in claims}, reports, titles, now)
        announced = {round_.id for _form, round_ in forms}
        others = [r for r in reports if r.round.id not in announced]
        remind = self._reminder(other_kinds, others, titles, now)

        def messages(person: Person) -> tuple[OutMessage, ...]:
            language = self._language(person)
            out = tuple(
                announcement(form, round_, school, language, self.settings)
                for form, round_ in forms
            )
            return out + (remind(person) if other_kinds and others else ())

        return messages

    def _reminder(
        self, kinds: set[SlotKind], reports: Sequence[PendingReport],
        titles: Mapping[int, Mapping[str, str]], now: datetime,
    ) -> Callable[[Person], tuple[OutMessage, ...]]:
        """The one reminder listing every report the school owes."""
        return lambda person: (
            reminder_message(language=self._language(person), kinds=kinds, reports=reports,
                             titles=titles, tz=self.tz, now=now),
        )

    async def _escalate(
        self, session: AsyncSession, claim: ClaimedSlot, result: TickResult
    ) -> list[Recipients]:
        round_ = claim.round
        schools = list(
            (
                await session.execute(
                    select(School).where(School.id.in_(claim.school_ids))
                )
            ).scalars()
        )
        schools.sort(key=by_name)
        by_district: dict[int, list[School]] = defaultdict(list)
        for school in schools:
            by_district[school.district_id].append(school)
        officers = await reminders.district_officers(session, sorted(by_district))
        names = await district_names(session, sorted(by_district))
        titles = (await reminders.form_titles(session, [round_]))[round_.id]
        contacts = await reminders.school_contacts(session, [s.id for s in schools])
        # The officer phones the schools where nobody could be told: listed apart.
        told = {sid for sid, people in contacts.items() if any(p.reachable for p in people)}
        # With the numbers: the officer may call their own district's schools.
        callee = {s.id: Callee(s.name, phones_for(s, contacts.get(s.id, []))) for s in schools}
        records = []
        for district_id, late in sorted(by_district.items()):
            people = officers.get(district_id, [])
            purpose = f"escalation:{round_.id}:{district_id}:{claim.slot.key}"
            items = [
                Outgoing(
                    chat_id=person.telegram_id,
                    person_id=person.id,
                    messages=(
                        escalation_message(
                            language=self._language(person),
                            district=names.get(district_id, str(district_id)),
                            titles=titles,
                            period=round_.period,
                            deadline=round_.deadline,
                            schools=[callee[s.id] for s in late if s.id in told],
                            unreached=[callee[s.id] for s in late if s.id not in told],
                            tz=self.tz,
                        ),
                    ),
                )
                for person in people
            ]
            if items:
                result.escalations += await enqueue(session, purpose, items)
            records += [
                Recipients(claim.log_ids[s.id], [p.id for p in people], purpose) for s in late
            ]
        return records

    # --- what is coming ----------------------------------------------------------------

    async def upcoming(self, now: datetime, horizon: timedelta) -> list[tuple[str, datetime]]:
        """(stable job id, when) of every slot and schedule opening before now + horizon."""
        out: list[tuple[str, datetime]] = []
        async with transaction(self.sessionmaker) as session:
            for round_, slot in await reminders.upcoming_slots(
                session,
                now=now,
                until=now + horizon,
                tz=self.tz,
                quiet=self.quiet,
                defaults=self.defaults,
            ):
                out.append((f"round:{round_.id}:{slot.key}", slot.send_at))
            for schedule in await active_schedules(session):
                at = next_opening(schedule, now, self.tz)
                if at is not None and at <= now + horizon:
                    out.append((f"schedule:{schedule.id}:{at.date().isoformat()}", at))
        return out
