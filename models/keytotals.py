"""Compatibility shim (issue 10): this module moved to `models.followup.keytotals`.

Re-exports only (no tables are defined here); delete once every importer says
`models.followup.keytotals` (/work/notes/mrest-renames.sed).
"""

from models.followup.keytotals import *  # noqa: F403
