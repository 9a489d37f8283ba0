"""A round's schools taken a few districts at a time, in the order schools are listed.

The workbook of a 200,000-school round would hold every school's status, figures and
revisions at once (450 MB measured); read a batch of districts at a time, it holds one
batch's (issue 13: 400 MB at most). Sorting each batch's schools by
`models.roster.order.school_key` and putting the batches end to end gives the same list
as sorting them all, because the district's name comes first in that key: batches are
runs of districts in that order, and districts whose names sort alike stay together.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.roster.order import natural_key
from models.roster.tables import District, School

Districts = int | Sequence[int] | None
"""The districts a read is limited to: one, several (a batch), or None for all."""

BATCH_SCHOOLS = 25_000
"""About how many schools a batch holds: one batch's rows are about 60 MB of Python
objects in the workbook; a 200,000-school round takes 8 batches. (20 batches of 10,000
held 30 MB less but took 3 s more on PostgreSQL, which scans the round once a batch.)"""


def in_districts(districts: int | Sequence[int]) -> ColumnElement[bool]:
    """The school is in the district, or one of the districts, given."""
    if isinstance(districts, int):
        return School.district_id == districts
    return School.district_id.in_(list(districts))


async def district_batches(
    session: AsyncSession, district_id: int | None, size: int | None = None
) -> list[list[int]]:
    """Every district (or only `district_id`) in reading order, in runs of about `size`
    (BATCH_SCHOOLS) schools, counting all the district's schools, an upper bound of
    those expected."""
    if district_id is not None:
        return [[district_id]]
    size = size or BATCH_SCHOOLS
    rows = (
        await session.execute(
            select(District.id, District.name, func.count(School.id))
            .join(School, School.district_id == District.id)
            .group_by(District.id, District.name)
        )
    ).all()
    ordered = sorted(rows, key=lambda r: (natural_key(r[1]), r[0]))
    batches: list[list[int]] = []
    held = size  # schools in the last batch: a full one starts the first
    for _key, alike in groupby(ordered, key=lambda r: natural_key(r[1])):
        run = list(alike)
        schools = sum(n for _id, _name, n in run)
        if held + schools > size:
            batches.append([])
            held = 0
        batches[-1].extend(i for i, _name, _n in run)
        held += schools
    return batches
