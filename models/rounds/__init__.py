"""Collection rounds: the tables, and the rules of a round's life, with no Telegram in them.

Every function takes the caller's AsyncSession and never commits: the caller's unit of
work (one update, one CLI command, one job) commits or rolls back as a whole. Times are
aware datetimes; `now` is a parameter wherever the answer depends on it, so that tests
and jobs can say when "now" is.

    tables       the round tables (rounds, expected schools, submissions, revisions,
                 answers, form versions) and the conversations table
    versions     the exact text of every form version a round asks; the form of a round
    lifecycle    open, close, extend a round; unlock a school; the rounds to list
    locks        when entry closes, and whether a school may still change its report
    submissions  a school's reports and its shared draft (compare-and-set writes)
    answers      typed answers: load, save, previous answers
    revisions    submitting: the checks and the immutable numbered revisions
    periods      period labels (2026-W48, 2026-11, 2026-autumn) and how they are shown
    schedules    recurring schedules that open each period's round by themselves
    errors       why a round or a submission is refused
    inserts      the dialect's INSERT ... ON CONFLICT

The tables are re-exported here, so that `from models.rounds import Round` keeps working;
the rules are imported from their modules. This module imports only `tables` (which
imports nothing else of the package), so any module of the package may be imported first.
"""

from models.rounds.tables import (
    WORKING,
    Answer,
    Conversation,
    FormVersion,
    Revision,
    Round,
    RoundSchool,
    RoundStatus,
    Submission,
    SubmissionStatus,
)

__all__ = [
    "WORKING",
    "Answer",
    "Conversation",
    "FormVersion",
    "Revision",
    "Round",
    "RoundSchool",
    "RoundStatus",
    "Submission",
    "SubmissionStatus",
]
