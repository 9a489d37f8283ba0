"""The typed state of a draft (the submission's `state` JSON): how the walk goes on,
which messages were handled, last period's values, the rules already announced, the
reason of a revision.

Shared by the school's principal and deputy like the draft's position. The JSON keeps
the keys rows already hold ("walk", "return", "seen", "prev", "failing", "reason"), and
keys this version does not know are kept as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Self

from models.forms.walk import REVIEW, Walk

_KNOWN = frozenset(("walk", "return", "seen", "prev", "failing", "reason"))


@dataclass(slots=True)
class DraftState:
    walk: Walk = field(default_factory=Walk)
    seen: dict[int, int] = field(default_factory=dict)
    """Person id -> the last Telegram message of theirs stored, so that an update
    delivered again after a crash is not answered twice."""
    previous: dict[str, Any] | None = None
    """Field code -> last period's value (stored form); None: not looked up yet."""
    failing: list[str] = field(default_factory=list)
    """The error rules already announced as failing (told again once they agree)."""
    reason: str = ""
    """Why a revision is made (asked before it begins, or before a draft's submit)."""
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> Self:
        try:
            raw = json.loads(text or "{}")
        except ValueError:
            raw = {}
        if not isinstance(raw, dict):
            raw = {}
        seen = raw.get("seen")
        if not isinstance(seen, dict):
            seen = {}
        prev = raw.get("prev")
        return cls(
            walk=Walk(back=bool(raw.get("walk")), review=raw.get("return") == REVIEW),
            seen={int(p): m for p, m in seen.items() if isinstance(m, int)},
            previous=prev if isinstance(prev, dict) else None,
            failing=[str(c) for c in raw.get("failing", [])],
            reason=str(raw.get("reason") or ""),
            other={k: v for k, v in raw.items() if k not in _KNOWN},
        )

    def to_json(self) -> str:
        out: dict[str, Any] = dict(self.other)
        if self.walk.back:
            out["walk"] = True
        if self.walk.review:
            out["return"] = REVIEW
        if self.seen:
            out["seen"] = {str(p): m for p, m in self.seen.items()}
        if self.previous is not None:
            out["prev"] = self.previous
        if self.failing:
            out["failing"] = self.failing
        if self.reason:
            out["reason"] = self.reason
        return json.dumps(out, ensure_ascii=False)
