"""Files principals send as answers to a form's `file` question: the kinds accepted, and
the stored bytes with their name, type and SHA-256 (in the database, or in a folder)."""

from models.files.kinds import Refusal, check_bytes, check_upload, kind_of
from models.files.store import (
    Upload,
    read_bytes,
    round_files,
    save_file,
    store_bytes,
)
from models.files.tables import StoredFile

__all__ = [
    "Refusal",
    "StoredFile",
    "Upload",
    "check_bytes",
    "check_upload",
    "kind_of",
    "read_bytes",
    "round_files",
    "save_file",
    "store_bytes",
]
