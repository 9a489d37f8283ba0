"""Compatibility shim (issue 10): this module moved to `models.followup.flags`.

Re-exports only (no tables are defined here); delete once every importer says
`models.followup.flags` (/work/notes/mrest-renames.sed).
"""

from models.followup.flags import *  # noqa: F403
