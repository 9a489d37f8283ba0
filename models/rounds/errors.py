"""Why a round cannot be opened or changed, or a report cannot be written or submitted."""

from __future__ import annotations

import dataclasses

from models.forms import AnswerKey, RuleResult


class RoundError(Exception):
    """A round cannot be opened or changed as asked; the message says why (English,
    for the CLI and logs; handlers word the common cases themselves)."""


class DuplicateRound(RoundError):
    """A round for this form and period exists already (`round_id`)."""

    def __init__(self, message: str, round_id: int) -> None:
        super().__init__(message)
        self.round_id = round_id


class DraftMoved(Exception):
    """Another write to the shared draft came first (its version moved since it was
    read): nothing was written; roll back, read again and decide again."""

    def __init__(self, submission_id: int) -> None:
        super().__init__(f"submission {submission_id} changed meanwhile")
        self.submission_id = submission_id


@dataclasses.dataclass
class SubmitRefused(Exception):
    """Why a submission cannot be made yet: what is missing, the error rules failing,
    the warnings not confirmed, or the lock."""

    locked: bool = False
    missing: tuple[AnswerKey, ...] = ()
    errors: tuple[RuleResult, ...] = ()
    unconfirmed: tuple[RuleResult, ...] = ()
    reason_needed: bool = False

    def __str__(self) -> str:
        parts = []
        if self.locked:
            parts.append("locked")
        if self.missing:
            parts.append(f"missing {[k for k, _ in self.missing]}")
        if self.errors:
            parts.append(f"errors {[r.rule for r in self.errors]}")
        if self.unconfirmed:
            parts.append(f"unconfirmed warnings {[r.rule for r in self.unconfirmed]}")
        if self.reason_needed:
            parts.append("a revision needs a reason")
        return "cannot submit: " + ", ".join(parts)
