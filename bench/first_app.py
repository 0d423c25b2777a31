"""Benchmark: how long a first app takes to build in the browser, and how many actions it needs.

It runs the browser test tests/browser/test_build_an_app_in_browser.py (Chromium, a fresh database with the
demo people, the server the test suite starts) on each database asked for, and prints the figures that
test writes when `OPSLOOM_FIRST_APP_FIGURES` names a file. The test drives the person's steps: an admin
creates the app "purchasing", a supplier form, the purchase request (department, supplier link, line items
with quantity, unit price and a line-total formula, a total over the line totals, an amount, a reason
required when the amount is over 100 000), publishes both through the publish page, creates a requester
role on the permissions page with the demo sales rep in it, adds a supplier, draws, publishes and tries the
approval flow; then the sales rep raises the first request on the end-user page and sees its total.

It counts the person's actions — clicks (picking from a list is two, moving to a page is one), key presses
(one per character typed) and drags — and the wall time from the blank designer to the first saved record,
without the time the test spends on its screenshots. Both people are logged in before the clock starts.
Figures only: nothing here passes or fails.

  python bench/first_app.py [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/browser/test_build_an_app_in_browser.py"


def run(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-first-app-{kind}-") as tmp:
        figures = Path(tmp) / "figures.json"
        command = [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:xdist", "-p", "no:cacheprovider"]
        command += ["-k", kind]
        done = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "OPSLOOM_FIRST_APP_FIGURES": str(figures)},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not figures.exists():
            print(f"{kind}: the build did not finish\n{done.stdout[-3000:]}{done.stderr[-2000:]}", flush=True)
            return
        f = json.loads(figures.read_text())
    print(
        f"{kind}: {f['clicks'] + f['keys'] + f['drags']} actions to the first saved record "
        f"({f['clicks']} clicks, {f['keys']} key presses, {f['drags']} drags; the designer {f['designer']}, "
        f"the requester {f['requester']}; the approval flow, drawn, published and tried: {f['flow']}); "
        f"{f['seconds']:.1f} s wall time ({f['designed']:.1f} s designing)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"])
    for kind in parser.parse_args().databases:
        run(kind)


if __name__ == "__main__":
    main()
