"""Compatibility shim (issue 10): this module moved to `models.followup.reminders`.

Re-exports only (no tables are defined here); delete once every importer says
`models.followup.reminders` (/work/notes/mrest-renames.sed).
"""

from models.followup.reminders import *  # noqa: F403
