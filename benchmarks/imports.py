"""Rows per second of a bulk takeover (`CaseImport`) against plain case starts, on the same server and worker.

`python -m benchmarks.imports [--rows 1000] [--rounds 2]`: the embedded dev server and one worker process
(benchmarks.harness), then in alternating rounds the same number of cases opened (a) by `operations.cases.open_case`
calls, 32 at a time (as many as an import has in flight: 4 chunks of 8), and (b) by an import of a generated CSV file
of the generic format, from the file's bytes on (rows checked, sealed in the store, the workflow's chunks). Both are
timed until the worker has settled (every new case has run its first workflow task and the activities it started),
so a start the worker still owes work for is not counted as done. Prints the rates and their ratio; writes
benchmarks/results/import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from service.codec import KeyRing

os.environ.setdefault("SPOORWERK_ENCRYPTION_KEYS", KeyRing.generate(f"bench-{os.urandom(3).hex()}").to_json())
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

from benchmarks.harness import SPOORWERK_QUEUE, Stack  # noqa: E402
from documents.store import store_from_settings  # noqa: E402
from domain.case import CaseOpening  # noqa: E402
from domain.models import Actor, Role  # noqa: E402
from domain.nl_time import local_date  # noqa: E402
from operations import cases, imports  # noqa: E402
from operations.import_mapping import load_mapping  # noqa: E402
from service.settings import Settings  # noqa: E402

RESULTS = Path(__file__).parent / "results"
OPS = Actor(role=Role.OPERATIONS, id="bench")
IN_FLIGHT = 32


def export(n: int, employer: str) -> bytes:
    """`n` running cases of the generic format: a few weeks to a year sick, the first steps done."""
    today = local_date(datetime.now(timezone.utc))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dossiernummer", "werkgever", "eerste_ziektedag", "achternaam", "personeelsnummer",
                     "ziekmelding_arbodienst", "probleemanalyse"])  # fmt: skip
    for i in range(n):
        first = today - timedelta(days=20 + (i * 7) % 350)
        pa = (first + timedelta(days=40)).isoformat() if (today - first).days > 45 else ""
        writer.writerow([f"B-{i}", employer, first.isoformat(), f"Jansen-{i}", f"P{i}",
                         (first + timedelta(days=1)).isoformat(), pa])  # fmt: skip
    return out.getvalue().encode()


async def plain(stack: Stack, n: int, employer: str) -> float:
    today = local_date(datetime.now(timezone.utc))
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with slots:
            opening = CaseOpening(
                case_id=f"P{employer[2:]}x{i}",
                employer_id=employer,
                first_sick_day=today - timedelta(days=20 + (i * 7) % 350),
                opened_by=OPS,
            )
            await cases.open_case(stack.client, opening, task_queue=SPOORWERK_QUEUE)

    await stack.worker.settle(quiet=2)
    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (await stack.worker.settle(quiet=2) - start)


async def imported(stack: Stack, settings: Settings, n: int, employer: str) -> float:
    data = export(n, employer)
    await stack.worker.settle(quiet=2)
    start = time.perf_counter()
    checked = imports.check_file(
        data, load_mapping("generic"), filename="bench.csv", fmt=None, key=b"bench-key", opened_by=OPS
    )
    import_id = await imports.start_import(
        stack.client, store_from_settings(settings), checked, started_by=OPS, task_queue=SPOORWERK_QUEUE
    )
    assert import_id is not None and not checked.problems, checked.problems[:3]
    while (found := await imports.read_status(stack.client, import_id)).running:
        await asyncio.sleep(0.1)
    assert found.opened == n, found
    return n / (await stack.worker.settle(quiet=2) - start)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        work = Path(tmp)
        async with await Stack.start(work) as stack:
            # The worker process keeps its documents (and so the import's rows) in its own data folder.
            settings = Settings(data_dir=work / "worker", api_enabled=False)
            rates: dict[str, list[float]] = {"plain": [], "import": []}
            for r in range(args.rounds):
                rates["plain"].append(await plain(stack, args.rows, f"E-p{r}{os.urandom(3).hex()}"))
                rates["import"].append(await imported(stack, settings, args.rows, f"E-i{r}{os.urandom(3).hex()}"))
                print(f"round {r + 1}: plain {rates['plain'][-1]:.1f} cases/s, import {rates['import'][-1]:.1f} rows/s")
    mean = {k: sum(v) / len(v) for k, v in rates.items()}
    result = {
        "rows": args.rows,
        "rounds": args.rounds,
        "in_flight": IN_FLIGHT,
        "plain_cases_per_second": round(mean["plain"], 1),
        "import_rows_per_second": round(mean["import"], 1),
        "ratio": round(mean["import"] / mean["plain"], 2),
        "per_round": rates,
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
