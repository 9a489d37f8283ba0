"""notices and the outbox: deliveries, batches, files; notices, recipients, drafts

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("telegram_file_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_files")),
    )
    op.create_table(
        "delivery_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_text", sa.Text(), nullable=False),
        sa.Column("details_callback", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["people.id"], name=op.f("fk_delivery_batches_owner_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_batches")),
    )
    op.create_table(
        "notice_drafts",
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("attachment_kind", sa.String(length=10), nullable=True),
        sa.Column("attachment_file_id", sa.String(length=255), nullable=True),
        sa.Column("attachment_name", sa.String(length=255), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=True),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("requires_ack", sa.Boolean(), nullable=True),
        sa.Column("send_mode", sa.String(length=5), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_notice_drafts_author_id_people")
        ),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_notice_drafts")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=160), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parts_sent", sa.Integer(), nullable=False),
        sa.Column("in_doubt", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["delivery_batches.id"],
            name=op.f("fk_deliveries_batch_id_delivery_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_deliveries_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("purpose", "chat_id", name=op.f("uq_deliveries_purpose")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_person_id"), ["person_id"], unique=False)

    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachment_kind", sa.String(length=10), nullable=True),
        sa.Column("attachment_file_id", sa.String(length=255), nullable=True),
        sa.Column("attachment_name", sa.String(length=255), nullable=True),
        sa.Column("attachment_blob_id", sa.Integer(), nullable=True),
        sa.Column("requires_ack", sa.Boolean(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("excluded_schools", sa.JSON(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("auto_reminder_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["attachment_blob_id"],
            ["outbox_files.id"],
            name=op.f("fk_notices_attachment_blob_id_outbox_files"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["people.id"], name=op.f("fk_notices_author_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["delivery_batches.id"], name=op.f("fk_notices_batch_id_delivery_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_sent_at"), ["sent_at"], unique=False)

    op.create_table(
        "notice_recipients",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_notice_recipients_district_id_districts"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_recipients_notice_id_notices")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_notice_recipients_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_notice_recipients_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("notice_id", "person_id", name=op.f("pk_notice_recipients")),
    )
    with op.batch_alter_table("notice_recipients", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_recipients_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_recipients_person_id"))

    op.drop_table("notice_recipients")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_sent_at"))

    op.drop_table("notices")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_person_id"))
        batch_op.drop_index("ix_deliveries_due")
        batch_op.drop_index(batch_op.f("ix_deliveries_batch_id"))

    op.drop_table("deliveries")
    op.drop_table("notice_drafts")
    op.drop_table("delivery_batches")
    op.drop_table("outbox_files")
