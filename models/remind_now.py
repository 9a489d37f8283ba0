"""Compatibility shim (issue 10): this module moved to `models.followup.remind_now`.

Re-exports only (no tables are defined here); delete once every importer says
`models.followup.remind_now` (/work/notes/mrest-renames.sed).
"""

from models.followup.remind_now import *  # noqa: F403
