"""Benchmark: the Excel export of a 20,000-school round, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.export [--schools 20000] [--engines sqlite,postgres]

Target (issues 5 and 11): 20,000 schools × 20 fields within 5 s and 300 MB, now that
the workbook is written with XlsxWriter (heading, borders on every table cell, filter,
print set-up). The staffing form's Data sheet has 8 columns about the school and its
status, 17 fields and 6 computed fields per school, plus the warnings column.
Issue 13: 200,000 schools × 20 fields within 40 s and 400 MB; each figure is printed
beside its target (20,000: 5 s, 300 MB; 200,000: 40 s, 400 MB) with met / NOT met.

Each export runs in a fresh subprocess, which reports its wall time and its peak
resident memory: the kernel's high-water mark of its own address space (VmHWM in
/proc/self/status), so everything the child ever held counts, imports included.
getrusage's maxrss, printed on the next line, is not the child's own: Linux carries it
across exec, so a child spawned by this parent starts from the parent's peak (the
seeding's, which holds every row of the seed), and that is what this benchmark printed
as the export's peak before issue 13's workbook branch.
The machine may be busy: the CPU time the exporting process spent is printed beside the
wall time, and is the figure to compare while other work runs (the database server's own
time is not in it).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.seed import (
    Data,
    create_postgres,
    drop_postgres,
    postgres_base_url,
    seed_postgres,
    seed_sqlite,
)
from bench.targets import verdict


def child(url: str, round_id: int, out: str) -> None:
    import asyncio

    from config.settings import Settings
    from models.db import create_engine, create_sessionmaker
    from outputs.workbook import write_workbook

    async def run() -> tuple[float, float, int]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                t0, cpu0 = time.perf_counter(), time.process_time()
                with open(out, "wb") as fh:  # noqa: ASYNC230 - a benchmark, one task
                    result = await write_workbook(session, round_id, fh, "zh_CN", Settings())
                return time.perf_counter() - t0, time.process_time() - cpu0, result.schools
        finally:
            await engine.dispose()

    seconds, cpu, schools = asyncio.run(run())
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_mb = own_peak_mb() or maxrss_mb
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "peak_mb": peak_mb,
                "maxrss_mb": maxrss_mb,
                "schools": schools,
            }
        )
    )


def own_peak_mb() -> float | None:
    """This process's peak resident memory since it was started (exec), from Linux's
    /proc; None where there is no /proc (getrusage's figure is used then)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure(url: str, round_id: int, out: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.export", "--child", url, str(round_id), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=20_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    data = Data(args.schools)
    print(f"{args.schools} schools, {len(data.answers):,} answer rows", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for engine in args.engines.split(","):
            name = None
            if engine == "sqlite":
                path = Path(tmp) / "bench.db"
                round_id = seed_sqlite(path, data)
                url = f"sqlite+aiosqlite:///{path}"
            else:
                name = f"huibao_bench_{uuid.uuid4().hex[:8]}"
                url = create_postgres(postgres_base_url(), name)
                round_id = seed_postgres(url, data)
            try:
                out = Path(tmp) / f"export-{engine}.xlsx"
                r = measure(url, round_id, out)
                size = out.stat().st_size / 1e6
                print(
                    f"{engine:<9} export of {int(r['schools'])} schools: {r['seconds']:.2f} s "
                    f"({r['cpu']:.2f} s of CPU in this process), "
                    f"peak memory {r['peak_mb']:.0f} MB, file {size:.1f} MB",
                    flush=True,
                )
                print(
                    f"{engine:<9} (getrusage maxrss of the child {r['maxrss_mb']:.0f} MB: "
                    "it counts this parent's peak before the child started)",
                    flush=True,
                )
                big = args.schools >= 200_000
                seconds, mb = (40.0, 400.0) if big else (5.0, 300.0)
                n = f"{engine} {int(r['schools']):,}"
                print(verdict(f"{n} export wall time", r["seconds"], seconds, "s"), flush=True)
                print(verdict(f"{n} export CPU time", r["cpu"], seconds, "s"), flush=True)
                print(verdict(f"{n} export peak memory", r["peak_mb"], mb, "MB"), flush=True)
            finally:
                if name:
                    drop_postgres(postgres_base_url(), name)


if __name__ == "__main__":
    main()
