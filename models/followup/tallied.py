"""A round's completeness and key totals read from its tallies (models/rounds/tallies.py).

Each reader returns None when the tallies do not hold for the question asked (no
tallies yet, the deadline moved since, a count as at a time before the latest first
submission they hold, a form whose key totals need the Python path); the caller then
adds up the answers as before. Same figures either way: tests/status/test_tallies.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.followup.completeness import Counts, cutoff_of
from models.followup.keytotals import KeyTotals, from_sums
from models.forms import FormDef
from models.roster.tables import School
from models.rounds import WORKING, Answer, Round, RoundSchool, Submission
from models.rounds.tables import submission_of_expected
from models.rounds.tallies import EXPECTED, LATE, ON_TIME, RoundTallyState, read


async def _state(session: AsyncSession, round_id: int) -> RoundTallyState | None:
    return await session.get(RoundTallyState, round_id)


async def counts_by_district(
    session: AsyncSession, rnd: Round, district_id: int | None, now: datetime
) -> dict[int, Counts] | None:
    """Each district's counts as at `now` (one district's with district_id), or None
    when the tallies cannot say."""
    state = await _state(session, rnd.id)
    if state is None or state.cutoff != cutoff_of(rnd):
        return None
    if state.latest_first is not None and now < state.latest_first:
        return None
    kept: dict[int, dict[str, int]] = {}
    for d, code, _b, _num, _den, n in await read(
        session, rnd.id, district_id, (EXPECTED, ON_TIME, LATE)
    ):
        kept.setdefault(d, {})[code] = n
    drafts = await in_progress(session, rnd.id, district_id)
    out: dict[int, Counts] = {}
    for d, by_code in kept.items():
        expected = by_code.get(EXPECTED, 0)
        if not expected:
            continue
        on_time, late, working = by_code.get(ON_TIME, 0), by_code.get(LATE, 0), drafts.get(d, 0)
        out[d] = Counts(expected, on_time, late, working, expected - on_time - late - working)
    return out


async def in_progress(
    session: AsyncSession, round_id: int, district_id: int | None
) -> dict[int, int]:
    """Per district, the expected schools never submitted that have working answers:
    few, and found through the partial index of unsubmitted submissions."""
    draft = (
        exists()
        .where(Answer.submission_id == Submission.id, Answer.revision == WORKING)
        .correlate(Submission)
    )
    query = (
        select(School.district_id, func.count())
        .select_from(Submission)
        .join(RoundSchool, submission_of_expected())
        .join(School, School.id == Submission.school_id)
        .where(
            Submission.round_id == round_id,
            Submission.first_submitted_at.is_(None),
            draft,
        )
        .group_by(School.district_id)
    )
    if district_id is not None:
        query = query.where(School.district_id == district_id)
    return {d: n for d, n in (await session.execute(query)).all()}


async def key_totals(
    session: AsyncSession, form: FormDef, round_id: int, district_id: int | None
) -> KeyTotals | None:
    """The key totals from the tallies, or None when they do not keep them."""
    state = await _state(session, round_id)
    if state is None or not state.key_totals:
        return None
    rows = await read(session, round_id, district_id, None)
    present = sorted({d for d, code, _b, _n, _dn, n in rows if code in (ON_TIME, LATE) and n})
    sums = [
        (d, code, None if bucket == "" else bucket.removeprefix("by:"), (num, den, n))
        for d, code, bucket, num, den, n in rows
        if not code.startswith("@")
    ]
    return from_sums(form.key_totals, sums, present)
