"""Compatibility shim (issue 10): this module moved to `models.roster.strangers`.

Re-exports only (no tables are defined here); delete once every importer says
`models.roster.strangers` (/work/notes/mrest-renames.sed).
"""

from models.roster.strangers import *  # noqa: F403
