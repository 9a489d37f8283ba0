"""inbox: questions from schools to the bureau, and their messages

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("asked_by", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("assigned_to", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asked_by"], ["people.id"],
                                name=op.f("fk_questions_asked_by_people")),
        sa.ForeignKeyConstraint(["assigned_to"], ["people.id"],
                                name=op.f("fk_questions_assigned_to_people")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"],
                                name=op.f("fk_questions_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    op.create_index(op.f("ix_questions_school_id"), "questions", ["school_id"])
    op.create_index(op.f("ix_questions_status"), "questions", ["status"])
    op.create_table(
        "question_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("from_school", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("file_kind", sa.String(length=10), nullable=True),
        sa.Column("file_id", sa.String(length=255), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["people.id"],
                                name=op.f("fk_question_messages_author_id_people")),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"],
                                name=op.f("fk_question_messages_question_id_questions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_messages")),
    )
    op.create_index(op.f("ix_question_messages_question_id"), "question_messages",
                    ["question_id"])


def downgrade() -> None:
    op.drop_table("question_messages")
    op.drop_table("questions")
