"""Browser tests: a real Opsloom server per test, on each database, driven by Debian's chromium.

`live_server` seeds a fresh database with the demo (`opsloom demo --no-serve
--database-url ...`: the example procurement app, its sample records and the
demo people) and serves it with `opsloom serve` on a free port. `browser` is
Playwright's sync API on /usr/bin/chromium (installed by `make browser`; we do
not use `playwright install`). `open_page` gives each user a context of their
own; `page` is the first one. Every page's console errors, CSP violations and
uncaught exceptions are collected in `browser_log`. `screenshot(page, step)`
saves `<db>/<test>/<NN>-<step>.png` under the run's temporary folder, or under
`$OPSLOOM_SCREENSHOTS` when set (`OPSLOOM_SCREENSHOTS=test-artifacts/screenshots`
keeps them for the README).

Playwright's sync API keeps an event loop running while it is started, and
`asyncio.run` (used to create and drop the test databases) refuses to run
inside it. So Playwright lives per test, inside the database's lifetime:
`browser` depends on `live_server`, which depends on `db_url`.

Mark browser tests `pytest.mark.xdist_group("browser")`: CI runs
`pytest -n 2 --dist loadgroup`, and one worker then runs them one at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize, expect, sync_playwright

from opsloom.demo import DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = os.environ.get("OPSLOOM_SCREENSHOTS")  # where to keep screenshots; else the run's temp folder
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
START_TIMEOUT = 60.0
# CI runs two workers on two cores, each with a server, a database and a browser: waits are generous,
# since a slow answer under that load is not what these tests are about (speed is bench/pages.py's job).
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)

# The demo people (opsloom/demo.py), all with DEMO_PASSWORD.
PASSWORD = DEMO_PASSWORD
REQUESTER = "sales.rep@opsloom.local"  # 王强, requester in Sales
DEPARTMENT_HEAD = "sales.head@opsloom.local"  # 李娜, heads Sales
VICE_PRESIDENT = "vp@opsloom.local"  # 周总, heads HQ
FINANCE = "finance@opsloom.local"  # 刘洋, heads Finance
ACCOUNTANT = "accountant@opsloom.local"  # 赵敏, countersigns with 刘洋
ADMIN = "admin@opsloom.local"

# Chromium reports CSP violations as console errors; the listener makes sure none goes unnoticed.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@dataclass(frozen=True)
class LiveServer:
    url: str
    db_kind: str
    database_url: str
    data_dir: Path
    log: Path


@dataclass
class BrowserLog:
    """What the pages of one test reported: console errors (CSP violations among them) and uncaught exceptions."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.endswith("/favicon.ico"):  # Chromium asks for it on its own
            self.console_errors.append(f"{url}: {message.text}")

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.page_errors

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m or "CSP violation" in m]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _opsloom(*args: str) -> list[str]:
    return [sys.executable, "-m", "opsloom", *args]


def _seed_demo(database_url: str, data_dir: Path, cwd: Path) -> None:
    seeded = subprocess.run(
        _opsloom("demo", "--no-serve", "--data-dir", str(data_dir), "--database-url", database_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if seeded.returncode != 0:
        pytest.fail(f"seeding the demo failed:\n{seeded.stdout}\n{seeded.stderr}")


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not answer {url}/api/health within {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def live_server(db_kind: str, db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`opsloom serve` on a free port, on this test's database, with the demo loaded and no timer worker."""
    data_dir, cwd = tmp_path / "server-data", tmp_path / "server-cwd"
    cwd.mkdir()  # away from the repository, so a developer's .env is not read
    _seed_demo(db_url, data_dir, cwd)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPSLOOM_")},
        "OPSLOOM_DATABASE_URL": db_url,
        "OPSLOOM_DATA_DIR": str(data_dir),
        "OPSLOOM_RUN_WORKER": "false",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            _opsloom("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", db_kind, db_url, data_dir, log)
    try:
        _wait_until_healthy(server.url, process, log)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; a missing browser fails the test (never a skip), before any server is started."""
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests need Debian's chromium at {CHROMIUM}; install it with `make browser`")
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path, live_server: LiveServer) -> Iterator[Browser]:
    """Chromium through Playwright's sync API (started after the server, stopped before its database is dropped)."""
    with sync_playwright() as playwright:
        # We run as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def open_page(browser: Browser, live_server: LiveServer, browser_log: BrowserLog) -> Callable[..., Page]:
    """`open_page(viewport=DESKTOP, locale="zh-CN")`: a page in a new context (its own cookies: one per user)."""

    def open_(viewport: ViewportSize = DESKTOP, locale: str = "zh-CN") -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=viewport, locale=locale)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        browser_log.watch(page)
        return page

    return open_


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    """A desktop page in Chinese, the demo's first language."""
    return open_page()


@pytest.fixture
def screenshot(
    request: pytest.FixtureRequest, db_kind: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Page, str], Path]:
    """`screenshot(page, step)` saves the whole page as <NN>-<step>.png, numbered in the order taken."""
    root = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.getbasetemp() / "screenshots"
    folder = root / db_kind / _file_name(request.node.originalname)
    shutil.rmtree(folder, ignore_errors=True)
    taken = 0

    def take(page: Page, step: str) -> Path:
        nonlocal taken
        taken += 1
        path = folder / f"{taken:02d}-{_file_name(step)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-")


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the real /login page (in whichever language it shows) and land on the home page.

    Use a page of a fresh context (`open_page()`): a logged-in browser is sent from /login to /.
    """
    page.goto("/login")
    page.get_by_label(re.compile(r"^(E-mail|邮箱)$")).fill(email)
    page.get_by_label(re.compile(r"^(Password|密码)$")).fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"^(Log in|登录)$")).click()
    if urlsplit(page.url).path != "/":
        errors = page.locator(".field-error").all_inner_texts()
        pytest.fail(f"logging in as {email} failed at {page.url}: {errors}")
