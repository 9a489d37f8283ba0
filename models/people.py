"""Compatibility shim (issue 10): this module moved to `models.roster.tables`.

Re-exports only (no tables are defined here); delete once every importer says
`models.roster.tables` (/work/notes/mrest-renames.sed).
"""

from models.roster.tables import *  # noqa: F403
