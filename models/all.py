"""Import every model module so that Base.metadata knows all tables (Alembic, tests)."""

import models.files.tables
import models.followup.completeness  # the ix_answers_working index
import models.followup.reminders.reminder_log
import models.inbox
import models.notices
import models.outbox.tables
import models.review
import models.roster.invites
import models.roster.tables
import models.rounds
import models.rounds.schedules
import models.rounds.tallies  # round_tallies, round_tally_states
import models.secrets  # noqa: F401
