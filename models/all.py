"""Import every model module so that Base.metadata knows all tables (Alembic, tests)."""

import models.completeness  # the ix_answers_working index
import models.invites
import models.notices
import models.outbox
import models.people
import models.reminders
import models.rounds
import models.schedules
import models.secrets  # noqa: F401
