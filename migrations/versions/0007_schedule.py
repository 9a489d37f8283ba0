"""schedules, round policies, reminder slots and log

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_code", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("open_time", sa.Time(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("deadline_time", sa.Time(), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("lock_days", sa.Integer(), nullable=True),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_schedules_created_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_form_code"), ["form_code"], unique=False)

    op.create_table(
        "reminder_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("people", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=120), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_reminder_log_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_reminder_log_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_log")),
        sa.UniqueConstraint("round_id", "school_id", "slot", name=op.f("uq_reminder_log_round_id")),
    )
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_log_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_log_school_id"), ["school_id"], unique=False)

    op.create_table(
        "round_policies",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_round_policies_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_round_policies_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_round_policies")),
    )
    op.create_table(
        "round_slots",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=40), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_round_slots_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("round_id", "slot", name=op.f("pk_round_slots")),
    )
    op.create_table(
        "schedule_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_schedule_occurrences_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_occurrences_schedule_id_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_occurrences")),
        sa.UniqueConstraint(
            "schedule_id", "period", name=op.f("uq_schedule_occurrences_schedule_id")
        ),
    )
    with op.batch_alter_table("schedule_occurrences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_schedule_occurrences_schedule_id"), ["schedule_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("schedule_occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_occurrences_schedule_id"))

    op.drop_table("schedule_occurrences")
    op.drop_table("round_slots")
    op.drop_table("round_policies")
    with op.batch_alter_table("reminder_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reminder_log_school_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_log_round_id"))

    op.drop_table("reminder_log")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_form_code"))

    op.drop_table("schedules")
