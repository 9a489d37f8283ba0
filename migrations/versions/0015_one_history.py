"""one history: the capabilities' branches (0006, 0007, 0008, 0010, 0012, 0013, 0014) meet

Until here each capability kept its own Alembic branch, so `huibao db current` printed
several revisions. From here there is one line of history: a new migration revises the
newest one, and `db current` prints one revision. Nothing in the schema changes.

Revision ID: 0015
Revises: 0006, 0007, 0008, 0010, 0012, 0013_notice_title, 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence

revision: str = "0015"
down_revision: str | Sequence[str] | None = (
    "0006", "0007", "0008", "0010", "0012", "0013_notice_title", "0014",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
