"""Notices (通知) from the bureau to schools: the tables, audiences, acknowledgements, the
composer's drafts and the sending rules. The names below stay importable from
`models.notices` for the code and tests that used the single module of before."""

from models.notices.acks import (
    AckOutcome,
    DistrictCount,
    NoticeStats,
    RecipientState,
    ack_counts,
    acknowledge,
    notice_stats,
    notices_for,
    pending_auto_reminders,
    recent_notices,
    recipient_states,
    reminder_targets,
)
from models.notices.audiences import (
    CONTACT_ROLES,
    Audience,
    AudienceKind,
    Recipient,
    Resolved,
    districts,
    parse_codes,
    resolve_audience,
    stage_codes,
)
from models.notices.sending import Created, NewNotice, Render, create_notice
from models.notices.tables import Notice, NoticeDraft, NoticeRecipient, notice_purpose

__all__ = [
    "CONTACT_ROLES",
    "AckOutcome",
    "Audience",
    "AudienceKind",
    "Created",
    "DistrictCount",
    "NewNotice",
    "Notice",
    "NoticeDraft",
    "NoticeRecipient",
    "NoticeStats",
    "Recipient",
    "RecipientState",
    "Render",
    "Resolved",
    "ack_counts",
    "acknowledge",
    "create_notice",
    "districts",
    "notice_purpose",
    "notice_stats",
    "notices_for",
    "parse_codes",
    "pending_auto_reminders",
    "recent_notices",
    "recipient_states",
    "reminder_targets",
    "resolve_audience",
    "stage_codes",
]
