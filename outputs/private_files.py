"""Files Huibao writes for staff (exports, invitations, backups): readable by the owner only.

They hold names, figures and live invitation codes, so they are created with mode 0600
whatever the umask; a file that already exists is overwritten and gets 0600 too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600


def make_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if it does not exist; set 0600 if it does."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_MODE))
    os.chmod(path, PRIVATE_MODE)


def open_private(path: Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
    """open(path, mode) for writing, the file created (or truncated) with mode 0600."""
    if not mode.startswith("w"):
        raise ValueError("open_private only writes")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # os.open leaves an existing file's mode alone
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise
