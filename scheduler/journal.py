"""The delivery journal: "Telegram accepted this" written down in microseconds.

A message Telegram has accepted must not be sent again, yet recording that in the
database takes a transaction, and a bot killed in between would send the message again
after its restart. So the worker first appends one line to this file (a single write()
into the page cache, which survives the death of the process; no fsync, so a power cut
can still lose it) and commits to the database afterwards. A restarted worker replays
the file into the database before it takes any delivery, then empties it.

Several bot processes on one machine each lock a file of their own (path, path.1, ...);
a process that starts takes the first free one, so a restarted process replays what its
predecessor left. A journal left on a machine that never starts the bot again is simply
not replayed: those few deliveries are sent again (at least once) when their lease ends.
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("huibao.delivery")

MAX_FILES = 16
# Emptied when everything written has also been committed and the file is this big.
TRUNCATE_AT = 256 * 1024


@dataclass(frozen=True)
class Entry:
    delivery_id: int
    token: str
    parts_sent: int
    message_id: int
    final: bool


class Journal:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._uncommitted = 0

    @classmethod
    def open(cls, base: Path) -> Journal | None:
        """Lock and open the first free journal file, or None if all are taken."""
        base.parent.mkdir(parents=True, exist_ok=True)
        for index in range(MAX_FILES):
            path = base if index == 0 else base.with_name(f"{base.name}.{index}")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return cls(path, fd)
        log.warning("no free delivery journal", extra={"path": str(base)})
        return None

    def entries(self) -> list[Entry]:
        """What a previous process wrote and may not have committed."""
        os.lseek(self._fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(self._fd, 1 << 16):
            chunks.append(chunk)
        found = []
        for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
            parts = line.split()
            # A line cut short by the crash has fewer fields; it is ignored.
            if len(parts) == 5 and parts[0] in ("S", "P"):
                try:
                    found.append(
                        Entry(int(parts[1]), parts[2], int(parts[3]), int(parts[4]),
                              parts[0] == "S")
                    )
                except ValueError:
                    continue
        return found

    def record(self, entry: Entry) -> None:
        line = (
            f"{'S' if entry.final else 'P'} {entry.delivery_id} {entry.token} "
            f"{entry.parts_sent} {entry.message_id}\n"
        )
        os.write(self._fd, line.encode())
        self._uncommitted += 1

    def committed(self, count: int = 1) -> None:
        self._uncommitted = max(0, self._uncommitted - count)
        if self._uncommitted == 0 and os.fstat(self._fd).st_size > TRUNCATE_AT:
            self.clear()

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)
        self._uncommitted = 0

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock
            self._fd = -1
