"""district review: review_rounds and submission_reviews (issue 12, item 2)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_rounds",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"],
                                name=op.f("fk_review_rounds_round_id_rounds")),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_review_rounds")),
    )
    op.create_table(
        "submission_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_submission_reviews_submission_id_submissions")),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"],
                                name=op.f("fk_submission_reviews_round_id_rounds")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"],
                                name=op.f("fk_submission_reviews_school_id_schools")),
        sa.ForeignKeyConstraint(["decided_by"], ["people.id"],
                                name=op.f("fk_submission_reviews_decided_by_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_reviews")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_submission_reviews_submission_id")),
    )
    op.create_index(op.f("ix_submission_reviews_round_id"), "submission_reviews", ["round_id"])
    op.create_index(op.f("ix_submission_reviews_school_id"), "submission_reviews", ["school_id"])
    op.create_index(op.f("ix_submission_reviews_status"), "submission_reviews", ["status"])


def downgrade() -> None:
    op.drop_table("submission_reviews")
    op.drop_table("review_rounds")
