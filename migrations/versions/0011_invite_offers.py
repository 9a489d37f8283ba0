"""invite offers: the one-time nonce a Confirm button carries instead of the code

Revision ID: 0011
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invite_offers",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invite_id"], ["invites.id"], name=op.f("fk_invite_offers_invite_id_invites")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_invite_offers_person_id_people")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_invite_offers")),
    )


def downgrade() -> None:
    op.drop_table("invite_offers")
