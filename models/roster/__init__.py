"""The roster: districts, schools, the people bound to them, invitations, roster files.

Compatibility shim (issue 10): `models.roster` was the roster-file module, now
`models.roster.roster_file`. Its names are served lazily from there, so that importing
`models.roster.tables` does not load the roster-file reader. Remove the shim part once
every importer says `models.roster.roster_file` (/work/notes/mrest-renames.sed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.roster.roster_file import *  # noqa: F403


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    module = importlib.import_module("models.roster.roster_file")
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(f"module 'models.roster' has no attribute {name!r}") from None
