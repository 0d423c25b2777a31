"""The `opsloom` command line."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import click

from opsloom.platform.settings import Settings, cores


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@click.group()
@click.version_option(package_name="opsloom")
def main() -> None:
    """Opsloom: forms, approval flows and reports from metadata."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (OPSLOOM_HOST)")
@click.option("--port", type=int, default=None, help="Port to listen on (OPSLOOM_PORT)")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Web processes  [default: one per CPU core this process may use]",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the web server."""
    settings = _settings(host=host, port=port)
    _run_server(settings, workers=workers or cores())


def _run_server(settings: Settings, workers: int = 1) -> None:
    import uvicorn

    os.environ["OPSLOOM_DATABASE_URL"] = settings.resolved_database_url
    os.environ["OPSLOOM_DATA_DIR"] = str(settings.data_dir)
    if settings.run_worker:
        os.environ["OPSLOOM_RUN_WORKER"] = "true"
    os.environ["OPSLOOM_FREEZE_GC"] = "true"
    uvicorn.run(
        "opsloom.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the platform's migrations."""
    from opsloom.platform.database import Database
    from opsloom.platform.migrate import upgrade

    async def run() -> str | None:
        database = Database.from_settings(Settings())
        try:
            return await upgrade(database)
        finally:
            await database.dispose()

    revision = asyncio.run(run())
    click.echo(f"database is at revision {revision}")


@main.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, help="As the password policy asks (at least 8 characters by default)")
@click.option("--name", default=None, help="Display name (default: the part before @)")
@click.option("--admin", is_flag=True, help="Make a platform admin")
def user_create(email: str, password: str, name: str | None, admin: bool) -> None:
    """Create a user; the first admin is created this way."""
    from opsloom.platform import org
    from opsloom.platform.context import SYSTEM, RequestContext
    from opsloom.platform.errors import OpsloomError
    from opsloom.platform.settings_store import settings_in

    data = {"email": email, "password": password, "name": name or email.split("@")[0], "is_admin": admin}

    async def run(session: Any) -> dict[str, Any]:
        site = await settings_in(session, Settings())  # the password policy in force
        return await org.create_user(session, RequestContext.with_site(SYSTEM, site.settings), data)

    try:
        created = asyncio.run(_with_session(run))
    except OpsloomError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created user {created['id']} {created['email']}" + (" (admin)" if admin else ""))


@main.group()
def token() -> None:
    """API tokens for scripts."""


@token.command("create")
@click.option("--email", required=True, help="The user the token acts as")
@click.option("--name", default="cli", show_default=True)
@click.option("--app", "apps", multiple=True, help="Limit to an app (repeatable); default all")
@click.option("--read-only", is_flag=True, help="The token may only read")
def token_create(email: str, name: str, apps: tuple[str, ...], read_only: bool) -> None:
    """Print a new API token (shown once; send it as Authorization: Bearer <token>)."""
    from sqlalchemy import select

    from opsloom.platform import auth, tables
    from opsloom.platform.context import RequestContext

    async def run(session: Any) -> str:
        u = tables.users
        user_id = (await session.execute(select(u.c.id).where(u.c.email == email.lower()))).scalar()
        if user_id is None:
            raise click.ClickException(f"there is no user {email}")
        secret, _ = await auth.create_token(
            session, RequestContext.for_now(), user_id, name, list(apps) or None, not read_only, None
        )
        return secret

    click.echo(asyncio.run(_with_session(run)))


async def _with_session(work: Any, settings: Settings | None = None) -> Any:
    from opsloom.platform.database import Database
    from opsloom.platform.migrate import upgrade

    database = Database.from_settings(settings or Settings())
    try:
        await upgrade(database)
        async with database.session(write=True) as session:
            return await work(session)
    finally:
        await database.dispose()


@main.group()
def files() -> None:
    """Uploaded files."""


@files.command("purge")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=0),
    default=24,
    show_default=True,
    help="Remove uploads no record took that are older than this",
)
def files_purge(older_than_hours: int) -> None:
    """Remove uploads that no record took (their rows and their content)."""
    from datetime import UTC, datetime, timedelta

    from opsloom.platform.files import FileStore
    from opsloom.runtime.attachments import purge_unattached

    settings = Settings()
    cutoff = datetime.now(UTC) - timedelta(hours=older_than_hours)

    async def run(session: Any) -> int:
        return await purge_unattached(session, FileStore(settings.files_dir), cutoff)

    removed = asyncio.run(_with_session(run, settings))
    click.echo(f"removed {removed} unattached uploads older than {older_than_hours} hours")


@main.group()
def outbox() -> None:
    """The outbox of events, webhooks and notifications."""


@outbox.command("purge")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="Forget dispatched events and finished deliveries older than this",
)
def outbox_purge(older_than_days: int) -> None:
    """Remove dispatched events and delivered or skipped deliveries (dead ones stay, to be replayed)."""
    from datetime import UTC, datetime, timedelta

    from opsloom.platform.outbox import purge

    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)

    async def run(session: Any) -> tuple[int, int]:
        return await purge(session, cutoff)

    events, deliveries = asyncio.run(_with_session(run))
    click.echo(f"removed {events} events and {deliveries} deliveries older than {older_than_days} days")


@main.group()
def app() -> None:
    """Apps: install and list."""


@app.command("install")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--no-sample-data", is_flag=True, help="Skip the package's sample records")
@click.option("--dry-run", is_flag=True, help="Print what would be created, changed and left alone; change nothing")
@click.option(
    "--resolve",
    multiple=True,
    metavar="PATH=keep_mine|take_theirs",
    help="Settle a conflict of an upgrade (repeat for each)",
)
def app_install(path: Path, no_sample_data: bool, dry_run: bool, resolve: tuple[str, ...]) -> None:
    """Install a template package (a folder or a .json file), or upgrade the app it holds in place."""
    from opsloom.platform.errors import OpsloomError

    resolutions = dict(item.partition("=")[::2] for item in resolve)
    try:
        plan, report = asyncio.run(
            install_from_path(
                Settings(), path, sample_data=not no_sample_data, dry_run=dry_run, resolutions=resolutions
            )
        )
    except OpsloomError as error:
        raise click.ClickException(str(error)) from None
    _echo_plan(plan)
    if report is None:
        return
    records = ", ".join(f"{n} {k}" for k, n in report.records.items()) or "no records"
    verb = "upgraded" if plan["action"] == "upgrade" else "installed"
    click.echo(f"{verb} {report.app}: forms {', '.join(report.forms) or 'unchanged'}; {records}")


def _echo_plan(plan: dict[str, Any]) -> None:
    before = f" from {plan['installed_version']}" if plan["installed_version"] else ""
    click.echo(f"{plan['action']} {plan['app']} {plan['version']}{before}:")
    for document in plan["documents"]:
        for i, sentence in enumerate(document["sentences"]):
            click.echo(("  " if i == 0 else "      ") + sentence)
    for form, count in plan["sample_data"].items():
        click.echo(f"  {count} sample records of {form}")
    for conflict in plan["conflicts"]:
        click.echo(
            f"  conflict at {conflict['path']}: yours {conflict['mine']!r}, the package's {conflict['theirs']!r}"
            " (choose with --resolve PATH=keep_mine or PATH=take_theirs)"
        )


async def install_from_path(
    settings: Settings,
    path: Path,
    *,
    sample_data: bool = True,
    dry_run: bool = False,
    resolutions: dict[str, str] | None = None,
) -> tuple[dict[str, Any], Any]:
    """The plan of importing the package at `path`, and (unless a dry run) the install's report."""
    from opsloom.designer.package_upgrade import apply_import, parse_resolutions, plan_import
    from opsloom.designer.packages import read_package
    from opsloom.platform.context import RequestContext
    from opsloom.platform.database import Database
    from opsloom.platform.migrate import upgrade
    from opsloom.runtime.forms import FormRegistry
    from opsloom.runtime.integrations.events import install_outbox
    from opsloom.runtime.pages.i18n import Translator

    database = Database.from_settings(settings)
    install_outbox(database)  # sample records announce themselves like any other
    try:
        await upgrade(database)
        package = read_package(path)
        ctx = RequestContext.for_now(zone=settings.zone)
        async with database.session(write=not dry_run) as session:
            plan = await plan_import(
                session,
                ctx,
                package,
                Translator("en"),
                resolutions=parse_resolutions(resolutions or {}),
                with_sample_data=sample_data,
                lock=not dry_run,
            )
            if dry_run:
                return plan.as_json(), None
            report = await apply_import(session, ctx, FormRegistry(), package, plan, with_sample_data=sample_data)
            return plan.as_json(), report
    finally:
        await database.dispose()


@app.command("export")
@click.argument("app_key", metavar="APP")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The file to write"
)
@click.option("--sample-data", is_flag=True, help="Add the app's records as sample data")
def app_export(app_key: str, output: Path, sample_data: bool) -> None:
    """Write an installed app as one template package file."""
    import json

    from opsloom.designer.package_export import export_package
    from opsloom.platform.context import RequestContext
    from opsloom.platform.errors import OpsloomError
    from opsloom.runtime.forms import FormRegistry

    settings = Settings()

    async def run(session: Any) -> dict[str, Any]:
        ctx = RequestContext.for_now(zone=settings.zone)
        return await export_package(session, ctx, FormRegistry(), app_key, sample_data=sample_data)

    try:
        package = asyncio.run(_with_session(run, settings))
    except OpsloomError as error:
        raise click.ClickException(str(error)) from None
    output.write_text(json.dumps(package, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    counts = ", ".join(f"{len(package.get(k, []))} {k}" for k in ("forms", "roles", "flows", "automations"))
    click.echo(f"exported {app_key} {package['manifest']['version']} to {output}: {counts}")


@app.command("list")
def app_list() -> None:
    """List installed apps and their published forms."""
    from sqlalchemy import select

    from opsloom.platform import tables
    from opsloom.platform.database import Database
    from opsloom.platform.migrate import upgrade
    from opsloom.runtime.forms import published_forms

    async def run() -> list[tuple[str, list[str]]]:
        database = Database.from_settings(Settings())
        try:
            await upgrade(database)
            async with database.session() as session:
                keys = (await session.execute(select(tables.apps.c.key).order_by(tables.apps.c.key))).scalars()
                return [(k, [f for f, _ in await published_forms(session, k)]) for k in list(keys)]
        finally:
            await database.dispose()

    rows = asyncio.run(run())
    if not rows:
        click.echo("no apps installed; try: opsloom app install examples/procurement")
    for key, forms in rows:
        click.echo(f"{key}\t{', '.join(forms)}")


@main.command()
@click.option("--port", type=int, default=None, help="Port (default 8000)")
@click.option("--host", default=None, help="Address (default 127.0.0.1)")
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("opsloom-demo"), show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the demo database and exit")
@click.option("--database-url", default="", help="An empty database to fill instead of a SQLite file in --data-dir")
def demo(port: int | None, host: str | None, data_dir: Path, no_serve: bool, database_url: str) -> None:
    """Start a fresh demo: new SQLite database, example apps with sample data."""
    from opsloom.resources import data_path

    if data_dir.exists():
        shutil.rmtree(data_dir)
    settings = _settings(host=host, port=port, data_dir=data_dir, database_url=database_url)
    for package in sorted(p for p in data_path("examples").iterdir() if (p / "app.json").exists()):
        _, report = asyncio.run(install_from_path(settings, package))
        click.echo(f"installed example app {report.app} ({', '.join(report.forms)})")
    from opsloom.demo import DEMO_PASSWORD, create_demo_crm, create_demo_people, create_demo_requests

    people = asyncio.run(_with_session(create_demo_people, settings))
    raised = asyncio.run(_with_session(create_demo_requests, settings))
    click.echo(f"raised {raised} purchase requests as the demo people (some waiting for approval)")
    click.echo("a supplier application of the engineer's waits for the buyer")
    waiting = asyncio.run(_with_session(create_demo_crm, settings))
    click.echo(f"CRM: {waiting} records of the sales rep wait for the sales manager (a large deal, a contract)")
    url = f"http://{settings.host}:{settings.port}"
    click.echo(f"\nOpsloom demo is ready at {url}  (API description: {url}/api/openapi.json)")
    click.echo(f"procurement spend dashboard: POST {url}/api/apps/procurement/dashboards/spend/run")
    click.echo(f"log in with any of these (password: {DEMO_PASSWORD}):")
    for email, role in people:
        click.echo(f"  {email:<28} {role}")
    click.echo("try: sales.head@ has a request waiting for approval; sales.rep@ raises new ones from the home page;")
    click.echo("     sales.manager@ approves the CRM contract waiting for him; finance@ records its payments")
    click.echo("     buyer@ reviews the new supplier the engineer proposed")
    click.echo(f"data: {settings.data_dir.resolve()}")
    if not no_serve:
        _run_server(settings.model_copy(update={"run_worker": True}))  # flow reminders fire in the demo


@main.command()
@click.option("--once", is_flag=True, help="Fire the timers, run queued jobs, deliver the outbox once, then exit")
@click.option("--interval", type=float, default=5.0, show_default=True, help="Seconds between timer rounds")
def worker(once: bool, interval: float) -> None:
    """Fire due flow timers, run background jobs (imports) and deliver the outbox: webhooks and notifications."""
    from opsloom.platform.collector import freeze_garbage_collector
    from opsloom.platform.database import Database
    from opsloom.platform.migrate import note_current
    from opsloom.platform.settings_store import SettingsStore
    from opsloom.runtime.flow.instances import FlowCache, Services
    from opsloom.runtime.flow.timers import run_due_timers, work
    from opsloom.runtime.forms import FormRegistry
    from opsloom.runtime.integrations.events import install_outbox
    from opsloom.runtime.integrations.worker import run_outbox_round, work_outbox
    from opsloom.runtime.job_kinds import job_runner

    settings = _settings()

    async def run() -> tuple[int, int, int, int]:
        db = Database.from_settings(settings)
        await note_current(db)
        install_outbox(db)  # a timer that moves a flow changes a record: its events go out too
        forms = FormRegistry()
        services = Services(forms, FlowCache())
        site = SettingsStore(settings)
        runner = job_runner(db, settings, forms, site)
        freeze_garbage_collector()
        try:
            if once:
                fired = await run_due_timers(db, services, site=site)
                ran = await runner.run_all()
                done = await run_outbox_round(db, forms, settings)
                return fired, ran, done.dispatched, done.delivered
            await asyncio.gather(
                work(db, services, interval, site), runner.work(min(interval, 1.0)), work_outbox(db, forms, settings)
            )
            return 0, 0, 0, 0
        finally:
            await db.dispose()

    fired, ran, dispatched, delivered = asyncio.run(run())
    click.echo(f"fired {fired} timers; dispatched {dispatched} events, delivered {delivered} messages; ran {ran} jobs")
