"""one round per form code and period: a unique index on rounds (form_code, period)

Two `huibao rounds open` at the same moment both passed the duplicate check and both
opened a round. The index makes the database refuse the second.

Existing rows first get their period in the stored spelling (canonical_period as it was
when this migration was written: "2026 秋季学期" -> "2026-autumn"), since the check has
always compared canonical periods. Duplicates that slipped through before (only the race
above could make them) are kept with all their submissions: the oldest round keeps the
period, a later one gets its id appended ("2026-autumn #12") and a warning is logged,
so staff can see both and close the one they do not want.

Not a partial index (e.g. open rounds only): a round is never opened twice for a period;
a closed round is reopened by extending it (extend_round), and there is no cancelled
state, so the check has always counted closed rounds too.

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-04
"""

import logging
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

INDEX = "uq_rounds_form_code_period"
PERIOD_LENGTH = 40

# A copy of models.rounds.periods.canonical_period as of this revision: a migration must do
# the same thing forever, whatever the application's code becomes.
_TERM_WORDS = re.compile(
    r"^(?P<year>\d{4})\s*(?:年\s*)?(?:-\s*)?"
    r"(?:(?P<autumn>秋季学期|秋季|秋|autumn\s+term|autumn|fall\s+term|fall)"
    r"|(?P<spring>春季学期|春季|春|spring\s+term|spring))$",
    re.IGNORECASE,
)
_SCHOOL_YEAR_HALF = re.compile(
    r"^(?P<first>\d{4})\s*[-－—~至到]\s*(?P<second>\d{4})\s*学年\s*(?P<half>上|下)\s*学期$"
)
_FULL_WIDTH_DIGITS = {0xFF10 + i: str(i) for i in range(10)} | {0x3000: " "}


def _canonical(text: str) -> str:
    label = " ".join(text.translate(_FULL_WIDTH_DIGITS).split())
    match = _TERM_WORDS.match(label)
    if match is not None:
        return f"{match['year']}-{'autumn' if match['autumn'] else 'spring'}"
    half = _SCHOOL_YEAR_HALF.match(label)
    if half is not None and int(half["second"]) == int(half["first"]) + 1:
        if half["half"] == "上":
            return f"{half['first']}-autumn"
        return f"{half['second']}-spring"
    return label


def _renamed(period: str, round_id: int, taken: set[tuple[str, str]], form_code: str) -> str:
    suffix = f" #{round_id}"
    label = period[: PERIOD_LENGTH - len(suffix)] + suffix
    n = 2
    while (form_code, label) in taken:  # only if someone typed "2026 #12" as a period
        suffix = f" #{round_id}-{n}"
        label = period[: PERIOD_LENGTH - len(suffix)] + suffix
        n += 1
    return label


def upgrade() -> None:
    bind = op.get_bind()
    rounds = sa.table(
        "rounds",
        sa.column("id", sa.Integer()),
        sa.column("form_code", sa.String()),
        sa.column("period", sa.String()),
    )
    rows = bind.execute(
        sa.select(rounds.c.id, rounds.c.form_code, rounds.c.period).order_by(rounds.c.id)
    ).all()
    wanted = {row.id: (row.form_code, _canonical(row.period)) for row in rows}
    taken: set[tuple[str, str]] = set()
    for row in rows:
        form_code, period = wanted[row.id]
        if (form_code, period) in taken:
            first = period
            period = _renamed(first, row.id, taken | set(wanted.values()), form_code)
            log.warning(
                "round %s collects %s for %s like an earlier round; its period is now %r "
                "(close the one that is not wanted)",
                row.id,
                form_code,
                first,
                period,
            )
        taken.add((form_code, period))
        if period != row.period:
            bind.execute(rounds.update().where(rounds.c.id == row.id).values(period=period))
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.create_index(INDEX, ["form_code", "period"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
