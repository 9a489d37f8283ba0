"""notices.title and notice_drafts.title; older notices get theirs from their first line

Revision ID: 0013_notice_title
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.notices.titles import derived_title

# A name rather than a bare number: other branches of the tree may take 0013 too.
revision: str = "0013_notice_title"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.String(length=100), nullable=True))
    notices = sa.table(
        "notices", sa.column("id", sa.Integer), sa.column("text", sa.Text),
        sa.column("title", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(notices.c.id, notices.c.text)).all()
    for notice_id, text in rows:
        bind.execute(
            notices.update().where(notices.c.id == notice_id)
            .values(title=derived_title(text or ""))
        )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.alter_column("title", existing_type=sa.String(length=100), nullable=False)
    with op.batch_alter_table("notice_drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice_drafts", schema=None) as batch_op:
        batch_op.drop_column("title")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("title")
