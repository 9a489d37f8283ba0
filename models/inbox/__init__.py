"""Questions from schools to the bureau: the tables (models.inbox.tables) and the rules
(models.inbox.threads)."""

from models.inbox.tables import Question, QuestionMessage, ThreadStatus

__all__ = ["Question", "QuestionMessage", "ThreadStatus"]
