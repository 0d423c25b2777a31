"""Benchmark: how long a first app takes to build in the browser, and how many actions it needs.

A fresh database with the demo (its people; the procurement app is not used), `opsloom serve`, and
Chromium (/usr/bin/chromium) driven through the same steps as tests/browser/test_build_an_app_in_browser.py
(tests/browser/app_building.py): an admin creates the app "purchasing", a supplier form, the purchase
request (department, supplier link, line items with quantity, unit price and a line-total formula, a total
over the line totals, an amount, a reason required when the amount is over 100 000), publishes both
through the publish page, creates a requester role on the permissions page (create and view own requests,
view suppliers) with the demo sales rep in it, adds a supplier; then the sales rep raises the first
request on the end-user page and sees its computed total.

It counts the person's actions — clicks (picking from a list is two, moving to a page is one), key presses
(one per character typed) and drags — and the wall time from the blank designer to the first saved record.
Both people are logged in before the clock starts. Figures only: nothing here passes or fails.

  python bench/first_app.py [--databases sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR), str(BENCH_DIR.parent)]

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from pages import ADMIN, PASSWORD, REP, opsloom_server, seed_demo  # noqa: E402

from tests.browser import app_building as build  # noqa: E402 - the repository root is on the path

CHROMIUM = "/usr/bin/chromium"


def no_screenshot(page: object, step: str) -> None:
    return None


def run(kind: str) -> None:
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-first-app-{kind}-") as tmp:
        workdir = Path(tmp)
        loop = asyncio.new_event_loop()
        database = fresh_database(kind, workdir)
        url = loop.run_until_complete(database.__aenter__())
        try:
            env = {
                "OPSLOOM_DATABASE_URL": url,
                "OPSLOOM_DATA_DIR": str(workdir / "data"),
                "OPSLOOM_SECRET_KEY": "bench",
                "OPSLOOM_RUN_WORKER": "false",
            }
            seed_demo(env, workdir)
            with opsloom_server(env, workdir) as server, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                people = []
                for email in (ADMIN, REP):
                    context = browser.new_context(base_url=server.base_url, locale="en")
                    context.set_default_timeout(30_000)
                    page = context.new_page()
                    build.log_in(page, email, PASSWORD)
                    people.append(build.Hands(page))
                designer, requester = people
                started = time.perf_counter()
                build.create_app(designer)
                build.build_supplier(designer)
                build.build_purchase_request(designer, no_screenshot)
                build.grant_requester(designer, REP, no_screenshot)
                build.add_supplier(designer, "Northwind Computing")
                before_flow = designer.actions
                build.design_flow(designer, "王强 Sales rep", no_screenshot)
                flow_actions = designer.actions - before_flow
                designed = time.perf_counter() - started
                build.raise_request(requester, "Northwind Computing", no_screenshot)
                seconds = time.perf_counter() - started
                browser.close()
        finally:
            loop.run_until_complete(database.__aexit__(None, None, None))
            loop.close()
    both = [designer, requester]
    clicks, keys, drags = (sum(getattr(h, name) for h in both) for name in ("clicks", "keys", "drags"))
    print(
        f"{kind}: {clicks + keys + drags} actions to the first saved record "
        f"({clicks} clicks, {keys} key presses, {drags} drags; the designer {designer.actions}, "
        f"the requester {requester.actions}; the approval flow, drawn, published and tried: {flow_actions}); "
        f"{seconds:.1f} s wall time ({designed:.1f} s designing)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"])
    for kind in parser.parse_args().databases:
        run(kind)


if __name__ == "__main__":
    main()
