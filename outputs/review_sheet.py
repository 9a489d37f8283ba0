"""The round workbook's district review sheets (a round opened with district review):
each expected school's review state (approved, awaiting review, returned, with the
revision, when it was decided and the comment of a return), and the counts per district."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.completeness import SchoolStatus
from models.review.rules import is_reviewed
from models.review.tables import ReviewStatus, SubmissionReview
from outputs.workbook_cells import local, school_columns, write_table
from outputs.xlsx import Cell, Workbook
from texts.review import status_label


async def review_sheets(
    session: AsyncSession, book: Workbook, _: Any, tz: ZoneInfo, round_id: int,
    statuses: Sequence[SchoolStatus],
) -> None:
    """Nothing for a round without review."""
    if not await is_reviewed(session, round_id):
        return
    reviews = {r.school_id: r for r in (await session.execute(
        select(SubmissionReview).where(SubmissionReview.round_id == round_id)
    )).scalars()}
    columns = [*school_columns(_), (_("Review state"), 14), (_("Revision"), 8),
               (_("Decided at"), 17), (_("Comment of the return"), 50.0)]
    rows: list[list[Cell]] = []
    per_district: dict[str, Counter[ReviewStatus]] = {}
    for s in statuses:
        review = reviews.get(s.school_id)
        state = ReviewStatus(review.status) if review is not None else None
        counts = per_district.setdefault(s.district, Counter())
        if state is not None:
            counts[state] += 1
        rows.append([
            s.code, s.name, s.district, status_label(_, state) or None,
            review.revision if review else None,
            local(review.decided_at, tz) if review else None,
            review.comment if review and state is ReviewStatus.RETURNED else None,
        ])
    write_table(book, _("District review"), columns, rows, freeze_cols=2)
    write_table(book, _("Review by district"), [
        (_("District"), 14), *((status_label(_, state), 12.0) for state in ReviewStatus),
    ], ([district, *(counts[state] for state in ReviewStatus)]
        for district, counts in per_district.items()))
