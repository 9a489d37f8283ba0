"""The round workbook's district review sheets (a round opened with district review):
each expected school's review state (approved, awaiting review, returned, with the
revision, when it was decided and the comment of a return), and the counts per district."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.batches import in_districts
from models.review.rules import is_reviewed
from models.review.tables import ReviewStatus, SubmissionReview
from models.roster.tables import School
from outputs.workbook_cells import Batch, local, open_table, school_columns
from outputs.xlsx import Workbook
from texts.review import status_label


class ReviewSheets:
    """Both sheets open side by side: the schools written a batch of districts at a
    time, the counts per district (a row per district, held until the end) at `finish`."""

    def __init__(
        self, stack: ExitStack, book: Workbook, _: Any, tz: ZoneInfo, round_id: int
    ) -> None:
        self._, self.tz, self.round_id = _, tz, round_id
        columns = [*school_columns(_), (_("Review state"), 14), (_("Revision"), 8),
                   (_("Decided at"), 17), (_("Comment of the return"), 50.0)]  # fmt: skip
        self.schools = open_table(stack, book, _("District review"), columns, freeze_cols=2)
        self.districts = open_table(stack, book, _("Review by district"), [
            (_("District"), 14), *((status_label(_, state), 12.0) for state in ReviewStatus),
        ])  # fmt: skip
        self.per_district: dict[str, Counter[ReviewStatus]] = {}

    @classmethod
    async def open(
        cls, session: AsyncSession, stack: ExitStack, book: Workbook, _: Any, tz: ZoneInfo,
        round_id: int,
    ) -> ReviewSheets | None:  # fmt: skip
        """None (and no sheet) for a round without review."""
        if not await is_reviewed(session, round_id):
            return None
        return cls(stack, book, _, tz, round_id)

    async def add(self, session: AsyncSession, batch: Batch) -> None:
        _, tz = self._, self.tz
        reviews = {r.school_id: r for r in (await session.execute(
            select(SubmissionReview)
            .join(School, School.id == SubmissionReview.school_id)
            .where(SubmissionReview.round_id == self.round_id, in_districts(batch.districts))
        )).scalars()}  # fmt: skip
        for s in batch.statuses:
            review = reviews.get(s.school_id)
            state = ReviewStatus(review.status) if review is not None else None
            counts = self.per_district.setdefault(s.district, Counter())
            if state is not None:
                counts[state] += 1
            self.schools.row([
                s.code, s.name, s.district, status_label(_, state) or None,
                review.revision if review else None,
                local(review.decided_at, tz) if review else None,
                review.comment if review and state is ReviewStatus.RETURNED else None,
            ])  # fmt: skip

    def finish(self) -> None:
        """The counts per district, once every batch is written."""
        for district, counts in self.per_district.items():
            self.districts.row([district, *(counts[state] for state in ReviewStatus)])
