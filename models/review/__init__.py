"""District review of submissions (issue 12, item 2): tables and rules."""

from models.review.tables import ReviewLevel, ReviewRound, ReviewStatus, SubmissionReview

__all__ = ["ReviewLevel", "ReviewRound", "ReviewStatus", "SubmissionReview"]
