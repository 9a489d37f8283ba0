"""Writing the audit log."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.roster.tables import AuditLog


def record(
    session: AsyncSession,
    action: str,
    target_id: int | None = None,
    *,
    actor_id: int | None = None,
    target_type: str | None = None,
    **details: Any,
) -> AuditLog:
    """Add an audit entry to the session; it commits with the change it describes.

    The action names its target first ("round.extend" is about a round), so the target's
    type is that first word unless it is given."""
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        target_type=action.split(".", 1)[0] if target_type is None else target_type,
        target_id=target_id,
        details=json.dumps(details, ensure_ascii=False, default=str, sort_keys=True),
    )
    session.add(entry)
    return entry
