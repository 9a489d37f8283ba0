"""onboarding: invites, wrong-code attempts, one principal per school

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRINCIPAL_ONLY = "role = 'principal'"


def upgrade() -> None:
    op.create_table(
        "invite_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invite_attempts")),
    )
    with op.batch_alter_table("invite_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invite_attempts_telegram_id_at", ["telegram_id", "at"], unique=False
        )

    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("replaces_principal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_invites_created_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_invites_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_invites_school_id_schools")
        ),
        sa.ForeignKeyConstraint(["used_by"], ["people.id"], name=op.f("fk_invites_used_by_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invites_code_hash")),
    )
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invites_school_id"), ["school_id"], unique=False)

    # At most one principal per school (deputies may be several).
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(
            "uq_people_school_principal",
            ["school_id"],
            unique=True,
            sqlite_where=sa.text(PRINCIPAL_ONLY),
            postgresql_where=sa.text(PRINCIPAL_ONLY),
        )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("uq_people_school_principal")

    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invites_school_id"))
    op.drop_table("invites")

    with op.batch_alter_table("invite_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_invite_attempts_telegram_id_at")
    op.drop_table("invite_attempts")
