"""Benchmark: the printable invitation sheet (`huibao invites create --all --xlsx`).

    .venv/bin/python -m bench.invitations [--count 2000] [--language zh_CN]

Writes the sheet for COUNT synthetic schools (a QR code with the school's name drawn
under it, per school, and the block of cells around it) and prints the wall time, the
time per invitation, the peak resident memory and the file's size. Target: 2,000
invitations (a large county twice over) within 15 s and 300 MB on the project's 2-core
machine; the sheet is made once per bureau, then for the few schools still missing.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.demo import synthetic_roster
from outputs.roster_files import InviteLine, invites_workbook

TARGET_SECONDS = 15.0
TARGET_MB = 300.0


def lines(count: int) -> list[InviteLine]:
    expires = datetime(2026, 12, 19, 8, 0, tzinfo=UTC)
    made = []
    for n, (code, name, district, _stage) in enumerate(synthetic_roster(count)):
        token = f"{n:016d}".translate(str.maketrans("0123456789", "ABCDEFGHJK"))
        made.append(
            InviteLine(
                code="-".join(token[i : i + 4] for i in range(0, 16, 4)),
                link=f"https://t.me/shifan_edu_bot?start={token}",
                role="principal",
                school_code=code,
                school_name=name,
                district=district,
                expires_at=expires + timedelta(minutes=n % 7),
            )
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--language", default="zh_CN", choices=["zh_CN", "en"])
    args = parser.parse_args()
    invitations = lines(args.count)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "邀请函.xlsx"
        started = time.perf_counter()
        invites_workbook(
            invitations, args.language, ZoneInfo("Asia/Shanghai"), path,
            bureau="示范县教育局", made_at=datetime.now(UTC),
        )
        seconds = time.perf_counter() - started
        size_mb = path.stat().st_size / 2**20
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "invitations": args.count,
        "seconds": round(seconds, 2),
        "ms_per_invitation": round(seconds * 1000 / max(args.count, 1), 2),
        "peak_mb": round(peak_mb),
        "file_mb": round(size_mb, 1),
    }))
    ok = seconds <= TARGET_SECONDS * args.count / 2000 and peak_mb <= TARGET_MB
    print(f"target ({TARGET_SECONDS:.0f} s per 2,000, {TARGET_MB:.0f} MB): "
          f"{'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
