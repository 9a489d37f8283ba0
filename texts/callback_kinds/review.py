"""The kinds of callback data of district review (handlers/review.py).

Re-exported by texts/callbacks.py, which callers import them from.
"""

from __future__ import annotations

from dataclasses import dataclass

from texts.callback_codec import Callback, RowId


@dataclass(frozen=True)
class ReviewList(Callback, prefix="rv:l"):
    """/review as a button: what waits for the presser's decision."""


@dataclass(frozen=True)
class OpenReview(Callback, prefix="rv:o"):
    review_id: RowId


@dataclass(frozen=True)
class ApproveReview(Callback, prefix="rv:a"):
    """Names the revision shown, so a newer one cannot be approved unseen."""

    review_id: RowId
    revision: int


@dataclass(frozen=True)
class ReturnReview(Callback, prefix="rv:r"):
    review_id: RowId
    revision: int


@dataclass(frozen=True)
class CancelReview(Callback, prefix="rv:x"):
    """Leave the return's comment without returning anything."""


@dataclass(frozen=True)
class ReviewToggle(Callback, prefix="rd:rv"):
    """The round set-up's district review toggle (handlers/rounds/wizard.py)."""
