"""Compatibility shim (issue 10): this module moved to `models.followup.completeness`.

Re-exports only (no tables are defined here); delete once every importer says
`models.followup.completeness` (/work/notes/mrest-renames.sed).
"""

from models.followup.completeness import *  # noqa: F403
