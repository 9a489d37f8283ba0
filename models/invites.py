"""Compatibility shim (issue 10): this module moved to `models.roster.invites`.

Re-exports only (no tables are defined here); delete once every importer says
`models.roster.invites` (/work/notes/mrest-renames.sed).
"""

from models.roster.invites import *  # noqa: F403
