"""Compatibility shim (issue 10): this module moved to `models.roster.people`.

Re-exports only (no tables are defined here); delete once every importer says
`models.roster.people` (/work/notes/mrest-renames.sed).
"""

from models.roster.people import *  # noqa: F403
