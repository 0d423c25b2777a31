"""Benchmark: template packages on an app that holds many records.

The CRM template is installed, its customer form filled with --rows records

is measured here, so rows are written with `create_records` in chunks), then
timed, each in its own transaction (commit included):

  export   the whole app with its records as sample data (through the permission service)
  plan     the dry run of an upgrade that adds a field and changes a label
  upgrade  the same upgrade applied (the three-way merge, the publish planner, the backup row)
  rollback the upgrade rolled back

Figures only: nothing here passes or fails.

  python bench/packages.py --db both --rows 20000
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path

from opsloom.designer.package_export import export_package
from opsloom.designer.package_upgrade import apply_import, plan_import, rollback_upgrade
from opsloom.designer.packages import read_package
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.migrate import upgrade
from opsloom.platform.permissions import full_access
from opsloom.resources import data_path
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.pages.i18n import Translator
from opsloom.runtime.records import create_records

CHUNK = 1_000


def version_two(package: dict[str, Any]) -> dict[str, Any]:
    newer = copy.deepcopy(package)
    newer["manifest"] = {"key": "crm", "version": "1.2.0"}
    customer = next(f for f in newer["forms"] if f["key"] == "customer")
    customer["fields"].append({"id": "cu_region", "key": "region", "type": "text", "label": "Region"})
    customer["label"] = {"zh-CN": "客户档案", "en": "Customer file"}
    return newer


async def run(kind: str, rows: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        async with fresh_database(kind, Path(folder)) as url:
            db = Database(url)
            try:
                await upgrade(db)
                registry, ctx, t = FormRegistry(), RequestContext.for_now(), Translator("en")
                package = read_package(data_path("examples") / "crm")
                async with db.session(write=True) as session:
                    plan = await plan_import(session, ctx, package, t, with_sample_data=False, lock=True)
                    await apply_import(session, ctx, registry, package, plan, with_sample_data=False)
                for start in range(0, rows, CHUNK):
                    batch = [{"name": f"Customer {i}", "level": "b"} for i in range(start, min(rows, start + CHUNK))]
                    async with db.session(write=True) as session:
                        form = await registry.get(session, "crm", "customer")
                        await create_records(session, form, ctx, batch, full_access("crm", "customer"))

                began = time.perf_counter()
                async with db.session() as session:
                    exported = await export_package(session, ctx, registry, "crm", sample_data=True)
                figures["export"] = time.perf_counter() - began
                figures["export_mb"] = len(json.dumps(exported, default=str)) / 1e6

                newer = version_two(package)
                began = time.perf_counter()
                async with db.session() as session:
                    await plan_import(session, ctx, newer, t)
                figures["plan"] = time.perf_counter() - began

                began = time.perf_counter()
                async with db.session(write=True) as session:
                    plan = await plan_import(session, ctx, newer, t, lock=True)
                    await apply_import(session, ctx, registry, newer, plan)
                figures["upgrade"] = time.perf_counter() - began

                began = time.perf_counter()
                async with db.session(write=True) as session:
                    await rollback_upgrade(session, ctx, registry, "crm")
                figures["rollback"] = time.perf_counter() - began
            finally:
                await db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        figures = asyncio.run(run(kind, args.rows))
        print(
            f"{kind:<10} {args.rows} customers: export with records {figures['export']:.2f} s "
            f"({figures['export_mb']:.1f} MB), upgrade plan {figures['plan']:.2f} s, "
            f"upgrade {figures['upgrade']:.2f} s, rollback {figures['rollback']:.2f} s",
            file=sys.stdout,
        )


if __name__ == "__main__":
    main()
