"""a round's tallies: completeness and key-total counters kept at each submission

Adding up a 200,000-school round's answers at every /status took seconds; the
counters per round and district (models/rounds/tallies.py) are changed in the same
transaction as each submission instead. The backfill is lazy: a round without a
tally state is added up from its answers as before, and its next submission builds its
tallies (models.rounds.tallies.rebuild), so no form has to be parsed here.

Also a partial index of the submissions never submitted, from which "in progress" is
counted when read.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "round_tallies",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("num", sa.Text(), nullable=False),
        sa.Column("den", sa.Text(), nullable=False),
        sa.Column("schools", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"],
                                name="fk_round_tallies_round_id_rounds"),
        sa.PrimaryKeyConstraint("round_id", "district_id", "code", "bucket",
                                name="pk_round_tallies"),
    )
    op.create_table(
        "round_tally_states",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_first", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_totals", sa.Boolean(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"],
                                name="fk_round_tally_states_round_id_rounds"),
        sa.PrimaryKeyConstraint("round_id", name="pk_round_tally_states"),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submissions_unsubmitted",
            ["round_id"],
            unique=False,
            postgresql_where=sa.text("first_submitted_at IS NULL"),
            sqlite_where=sa.text("first_submitted_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_submissions_unsubmitted")
    op.drop_table("round_tally_states")
    op.drop_table("round_tallies")
