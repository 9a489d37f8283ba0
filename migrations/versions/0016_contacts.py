"""contacts: the school's phone and its principal's from the roster, a person's own phone

schools.phone and schools.principal_phone are filled by a roster import (学校电话,
校长电话); people.phone is the number a person gave with /phone. Both are stored
normalised (models/roster/phones.py). The principal's phone shown to staff is the
person's own when they gave one, else the roster's.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schools") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("principal_phone", sa.String(length=32), nullable=True))
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("phone")
    with op.batch_alter_table("schools") as batch:
        batch.drop_column("principal_phone")
        batch.drop_column("phone")
