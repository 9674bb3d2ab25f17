"""The web console in a real headless Chromium (Debian's package) over the real server.

Playwright drives the OS's browser (``executable_path``); ``playwright install`` is never
needed. Screenshots go to the test's tmp dir, and also to ``$ALERTFLOW_SCREENSHOTS`` when set.
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from alertflow.store.analytics import DAY_NS

from tests.api.console_server import console_server
from tests.api.records import MIN
from tests.api.servers import require_binary

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "console-admin-token"


@pytest.fixture
def browser_page():
    require_binary(CHROMIUM if os.access(CHROMIUM, os.X_OK) else None, "Chromium", "chromium")
    if os.environ.get("CI"):
        import playwright.sync_api as sync_api  # the dev extra has it: missing is a failure
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda m: problems.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None)  # failed requests are checked one by one below
        failed: list[tuple[int, str]] = []
        page.on("response", lambda r: failed.append((r.status, r.url.split("/", 3)[-1]))
                if r.status >= 400 else None)
        page.problems, page.failed = problems, failed
        yield page, sync_api.expect
        browser.close()


def _shot(page, tmp_path: Path, name: str) -> Path:
    target = tmp_path / f"console-{name}.png"
    page.screenshot(path=str(target), full_page=True)
    copies = os.environ.get("ALERTFLOW_SCREENSHOTS")
    if copies:
        shutil.copy(target, Path(copies) / target.name)
    return target


def _weeks_seeded() -> int:
    """Monday-aligned weeks from the oldest seeded alert (16 days back) to the newest incident."""
    base = (time.time_ns() // MIN) * MIN - 3 * 60 * MIN
    week = lambda ns: (ns // DAY_NS - 4) // 7  # noqa: E731 - 1970-01-05 was a Monday
    return week(base + 100 * MIN) - week(base - 16 * DAY_NS) + 1


def test_console_sign_in_triage_silence_and_analytics(browser_page, tmp_path):
    page, expect = browser_page
    with console_server(tmp_path, TOKEN) as (server, ctx):
        page.goto(server.url + "/")
        expect(page.get_by_role("heading", name="alertflow")).to_be_visible()
        expect(page.get_by_role("heading", name="Paste a token to start")).to_be_visible()
        expect(page.get_by_role("heading", name="Incidents")).to_be_hidden()
        _shot(page, tmp_path, "login")
        page.get_by_label("API token").fill("not-a-token")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("not accepted")
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()

        # The live list: newest first, with the top cause.
        opener = page.get_by_role("button", name="Open incident inc-00001")
        expect(opener).to_be_visible()
        rows = page.locator("#incident-rows tr")
        expect(rows).to_have_count(4)
        expect(rows.first).to_contain_text("inc-00004")
        page.get_by_label("Status").select_option("resolved")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("auth")
        page.get_by_label("Status").select_option("")
        expect(rows).to_have_count(4)
        expect(page.get_by_text("Open an incident from the list")).to_be_visible()
        _shot(page, tmp_path, "list")

        # One incident: timeline of both versions, the graph with the cause highlighted.
        opener.click()
        expect(page.get_by_role("heading", name="Incident inc-00001")).to_be_visible()
        timeline = page.locator("#timeline li")
        expect(timeline).to_have_count(2)
        expect(timeline.nth(1)).to_contain_text("version 2: updated")
        graph = page.get_by_role("img", name="Root-cause graph: 3 services, top cause checkout")
        expect(graph).to_be_visible()
        expect(graph.locator("g.cause")).to_have_count(1)
        expect(graph.locator("g.node")).to_have_count(3)  # causes are nodes too
        expect(graph.locator("line.edge")).to_have_count(2)

        # Known topology: dependency arrows from the evidence, ranked causes by rank.
        page.get_by_role("button", name="Open incident inc-00004").click()
        chain = page.get_by_role("img", name="Root-cause graph: 4 services, top cause db")
        expect(chain.locator("line.edge")).to_have_count(3)
        expect(chain.locator("g.cause")).to_have_count(3)
        expect(chain).to_contain_text("cause #1 · 0.82")
        _shot(page, tmp_path, "graph")
        opener.click()
        expect(page.get_by_role("heading", name="Incident inc-00001")).to_be_visible()

        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_role("status")).to_have_text("Acknowledged: inc-00001.")
        expect(page.locator("#detail-facts")).to_contain_text("by admin (environment)")
        expect(page.get_by_role("button", name="Acknowledge")).to_be_disabled()
        page.get_by_label("Verdict").select_option("false_positive")
        page.get_by_role("button", name="Give verdict").click()
        expect(page.get_by_role("status")).to_have_text("Verdict given: inc-00001.")
        expect(timeline.last).to_contain_text("verdict by admin (environment)")
        expect(page.get_by_role("img", name="Noisiest rules: HighLatency 4, ErrorRate 4, "
                                "DiskFull 1")).to_be_visible()
        _shot(page, tmp_path, "incident")
        feedback = json.loads(ctx.intake.queues["feedback"].drain(10)[0].value())
        assert (feedback["target"], feedback["verdict"]) == ("inc-00001", "false_positive")

        # Silences: create one, see it listed and in the flow's file, expire it.
        page.get_by_label("Matchers").fill("service=checkout severity!=info")
        page.get_by_label("Comment").fill("deploying checkout")
        page.get_by_role("button", name="Create silence").click()
        expire = page.get_by_role("button", name="Expire silence service=checkout severity!=info")
        expect(expire).to_be_visible()
        expect(page.locator("#silence-rows")).to_contain_text("active")
        stored = json.loads(ctx.silences_file.read_text())
        assert stored[0]["matchers"] == ["service=checkout", "severity!=info"]
        _shot(page, tmp_path, "silences")
        expire.click()
        expect(page.get_by_text("No silences in force or to come.")).to_be_visible()
        page.get_by_label("Matchers").fill("service")
        page.get_by_role("button", name="Create silence").click()
        expect(page.get_by_role("alert")).to_contain_text("expected name=value")

        # Analytics: MTTA from the acknowledgement above, bars per rule and per day.
        page.get_by_label("Range").select_option("366")
        mtta = page.locator("#stats div").filter(has_text="MTTA").locator("dd")
        expect(mtta).to_have_text(re.compile(r"^\d+(\.\d)? (s|min|h)$"))  # ack'd hours after
        expect(page.locator("#chart-trend svg rect.bar")).not_to_have_count(0)
        expect(page.get_by_role("img", name="Flapping rules: HighLatency 1")).to_be_visible()
        # Per team: labels (web, payments), the service mapping (db -> storage), MTTA per team.
        expect(page.get_by_role("img", name="Notifications per team: web 4, payments 4, "
                                "storage 1")).to_be_visible()
        rows = page.get_by_role("table", name="Alert analytics per team").locator("tbody tr")
        expect(rows).to_have_count(3)
        web = rows.filter(has_text="web")
        expect(web.locator("td").nth(8)).to_have_text("HighLatency")
        expect(web.locator("td").nth(6)).to_have_text(re.compile(r"^\d+(\.\d)? (s|min|h)$"))
        page.get_by_label("Trend period").select_option("week")
        weeks = page.get_by_role("img", name=re.compile(r"^Per week \(from Monday\): "))
        expect(weeks.locator("rect.bar")).to_have_count(2 * _weeks_seeded())
        _shot(page, tmp_path, "analytics")
        page.get_by_role("combobox", name="Team").select_option("storage")
        expect(page.get_by_role("img", name="Noisiest rules: DiskFull 1")).to_be_visible()
        expect(rows).to_have_count(1)
        expect(page.get_by_role("combobox", name="Team").locator("option")).to_have_count(4)  # all + 3 teams
        _shot(page, tmp_path, "analytics-team")
    assert page.problems == [], page.problems  # no script errors, no CSP violations
    assert page.failed == [(401, "api/v1/incidents?limit=1"), (400, "api/v1/silences")]
