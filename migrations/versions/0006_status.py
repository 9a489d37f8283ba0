"""a partial index of working answers, for "in progress" in completeness counts

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_answers_working",
            ["submission_id"],
            unique=False,
            postgresql_where=sa.text("revision = 0"),
            sqlite_where=sa.text("revision = 0"),
        )


def downgrade() -> None:
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_answers_working",
            postgresql_where=sa.text("revision = 0"),
            sqlite_where=sa.text("revision = 0"),
        )
