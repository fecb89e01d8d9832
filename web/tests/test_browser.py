"""The web app end to end in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium against a real daphne serving HTTP and the websocket.

A module-scoped fixture copies a demo database made the way ``make demo`` does (``manage.py demo
--no-serve``: seed, a year of simulated prices, the batch, snapshots; the ``demo_folder`` fixture, made
once per test run), starts daphne on a free port with ``DATABASE_URL`` pointing at the copy
(pytest-django's live server is WSGI, without websockets), and logs in through the API for the
reference figures. Every page is saved as a screenshot under ``artifacts/screenshots/`` (git-ignored,
kept after the run for CI to collect; ``WEB_SCREENSHOT_DIR`` overrides) and its browser console must stay free of
errors.

Skipped, with the reason, only where Chromium is not installed; under CI (``CI=true``) a missing
browser is a failure, since ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portfolios.demo import demo_portfolio_id

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("WEB_SCREENSHOT_DIR") or ROOT / "artifacts" / "screenshots")
HEDGE_FUND = "demo_hedgefundstyle@sigmasight.com"
HNW = "demo_hnw@sigmasight.com"
INDIVIDUAL = "demo_individual@sigmasight.com"
PASSWORD = "demo12345"
WAIT_S = 20


def _browser_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_folder: Path) -> Iterator[dict[str, Any]]:
    """A copy of the demo's data folder served by daphne; yields its base URL and API tokens per demo user."""
    tmp = tmp_path_factory.mktemp("web-e2e")
    data = tmp / "data"
    shutil.copytree(demo_folder, data)
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}",
        "LOG_DIR": str(data / "logs"),
        "REPORTS_DIR": str(data / "reports"),
        "AGENT_PROVIDER": "local",
        "FAST_PASSWORD_HASHER": "1",
        "DJANGO_SETTINGS_MODULE": "sigmasight.settings",
    }
    env.pop("REDIS_URL", None)  # the in-memory channel layer and cache: one process, nothing shared
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sigmasight.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    process.stderr.read().decode() if process.stderr else "daphne did not start"
                ) from None
            time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    try:
        yield {"base": base, "tokens": {email: _api_token(base, email) for email in (HEDGE_FUND, HNW)}}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _api_token(base: str, email: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["access_token"]


def api_get(site: dict[str, Any], email: str, path: str) -> Any:
    request = urllib.request.Request(
        f"{site['base']}{path}", headers={"Authorization": f"Bearer {site['tokens'][email]}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    paths = _browser_paths()
    if paths is None:
        reason = "Chromium is not installed (apt-get install -y chromium chromium-driver); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}, yet this is CI")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,900",
                     "--disable-gpu", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    driver.set_page_load_timeout(WAIT_S)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


# --- helpers ---------------------------------------------------------------------------------------


def wait_for(driver: Any, condition: Any, timeout: float = WAIT_S) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def css_all(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def console_errors(driver: Any, *, allow: tuple[str, ...] = ()) -> list[str]:
    """The browser console's errors since the last call (the log is drained on reading)."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(a in entry["message"] for a in allow)
    ]


def screenshot(driver: Any, name: str) -> Path:
    """The whole page (the window grown to its height, then put back) as ``<name>.png``."""
    height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    driver.set_window_size(1440, max(900, min(int(height), 6000)))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1440, 900)
    return path


def sign_in(driver: Any, site: dict[str, Any], email: str) -> None:
    driver.delete_all_cookies()
    driver.get(site["base"] + "/")
    css(driver, "input[name=username]").send_keys(email)
    css(driver, "input[name=password]").send_keys(PASSWORD)
    css(driver, "form button[type=submit]").click()
    wait_for(driver, lambda d: d.current_url.endswith("/portfolios/"))


def figure(driver: Any, name: str) -> str:
    return css(driver, f'[data-figure="{name}"]').text.strip()


def dollars(value: float) -> str:
    return f"{'-' if round(value) < 0 else ''}${abs(value):,.0f}"


def money_cells(driver: Any, column: str) -> list[float]:
    texts = [cell.text for cell in css_all(driver, f'#positions td[data-col="{column}"]')]
    return [float(t.replace("$", "").replace(",", "").replace("+", "")) for t in texts if t not in ("—", "")]


# --- the tests -------------------------------------------------------------------------------------


def test_sign_in_and_the_dashboard_shows_the_apis_figures(site, browser) -> None:
    browser.get(site["base"] + "/")
    assert "Sign in" in browser.title
    screenshot(browser, "01-login")
    sign_in(browser, site, HEDGE_FUND)
    screenshot(browser, "02-portfolio-list")
    pid = demo_portfolio_id(HEDGE_FUND)
    css(browser, f'a[href="/portfolios/{pid}/"].strong-link').click()
    wait_for(browser, lambda d: css(d, "#history-chart").get_attribute("data-ready") == "true")
    overview = api_get(site, HEDGE_FUND, f"/api/v1/analytics/portfolios/{pid}/overview")
    var = api_get(site, HEDGE_FUND, f"/api/v1/analytics/portfolios/{pid}/var")["data"]
    assert figure(browser, "as_of") == overview["as_of"]
    assert figure(browser, "value") == dollars(overview["value"])
    assert figure(browser, "equity") == dollars(overview["equity_balance"])
    assert figure(browser, "cash") == dollars(overview["cash"])
    assert figure(browser, "gross_leverage") == f"{overview['leverage']:.2f}×"
    daily = overview["pnl"]["daily"]
    assert figure(browser, "daily_pnl") == ("+" if round(daily) > 0 else "") + dollars(daily)
    assert figure(browser, "var_99") == dollars(var["historical"]["var_99"])
    assert figure(browser, "positions") == str(overview["counts"]["positions"])
    assert figure(browser, "data_source") == "SIMULATED DATA"  # the badge is upper-cased by CSS
    assert "Completed" in figure(browser, "batch_status")
    stress = [float(c.text.replace("$", "").replace(",", "")) for c in css_all(browser, '[data-figure^="stress_"]')]
    assert stress == sorted(stress) and len(stress) >= 20  # worst first
    screenshot(browser, "03-dashboard")
    assert console_errors(browser) == []
    # At 1,440 pixels no panel is squeezed: the narrowest the layout has is a quarter of the grid (span-3).
    grid = css(browser, "main .grid").rect["width"]
    widths = {p.get_attribute("id"): p.rect["width"] for p in css_all(browser, "main .grid > .panel")}
    assert len(widths) >= 12 and all(w >= 0.2 * grid for w in widths.values()), (grid, widths)
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('main .panel')].filter(p => p.scrollWidth > p.clientWidth + 1)"
        ".map(p => p.id)"
    )
    assert overflowing == [], overflowing  # no table wider than its panel (the liquidity one was, by 34 pixels)


def test_positions_sort_and_filter_in_place(site, browser) -> None:
    sign_in(browser, site, HEDGE_FUND)
    pid = demo_portfolio_id(HEDGE_FUND)
    browser.get(f"{site['base']}/portfolios/{pid}/positions/")
    api = api_get(site, HEDGE_FUND, f"/api/v1/data/portfolios/{pid}/positions?status=open&page_size=500")
    rows = css_all(browser, "#positions tbody tr")
    assert len(rows) == api["count"]
    screenshot(browser, "04-positions")

    css(browser, '#positions th a[data-sort="market_value"]').click()  # numbers sort largest first
    wait_for(browser, lambda d: "sort=-market_value" in d.current_url)
    values = money_cells(browser, "market_value")
    assert values == sorted(values, reverse=True) and len(values) == api["count"]
    expected = sorted((p["market_value"] for p in api["results"] if p["market_value"] is not None), reverse=True)
    assert values == [round(v) for v in expected]
    css(browser, '#positions th a[data-sort="market_value"]').click()
    wait_for(browser, lambda d: re.search(r"sort=market_value", d.current_url))
    assert money_cells(browser, "market_value") == sorted(values)

    from selenium.webdriver.support.ui import Select

    Select(css(browser, "#filter-type")).select_by_value("SHORT")
    wait_for(browser, lambda d: "type=SHORT" in d.current_url and all(
        r.get_attribute("data-type") == "SHORT" for r in css_all(d, "#positions tbody tr")
    ))  # fmt: skip
    shorts = [p["symbol"] for p in api["results"] if p["position_type"] == "SHORT"]
    assert sorted(r.get_attribute("data-symbol") for r in css_all(browser, "#positions tbody tr")) == sorted(shorts)
    assert money_cells(browser, "market_value") == sorted(money_cells(browser, "market_value"))  # sort kept
    Select(css(browser, "#filter-type")).select_by_value("")
    Select(css(browser, "#filter-underlying")).select_by_value("NVDA")
    wait_for(browser, lambda d: "underlying=NVDA" in d.current_url and "type=SHORT" not in d.current_url)
    assert "type=&" not in browser.current_url and "tag=" not in browser.current_url  # only the filters set
    nvda = {r.get_attribute("data-symbol") for r in css_all(browser, "#positions tbody tr")}
    assert nvda == {p["symbol"] for p in api["results"] if "NVDA" in (p["symbol"], p["underlying_symbol"])}
    screenshot(browser, "04b-positions-filtered")
    browser.back()  # htmx keeps the history: back to the type filter cleared, sorted ascending
    wait_for(browser, lambda d: "underlying=NVDA" not in d.current_url)

    # With the keyboard only: Tab to the Qty header, Enter sorts by it.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{site['base']}/portfolios/{pid}/positions/")
    for _ in range(60):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.switch_to.active_element.get_attribute("data-sort") == "quantity":
            break
    else:
        pytest.fail("the Qty header cannot be reached with Tab")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait_for(browser, lambda d: "sort=-quantity" in d.current_url)
    assert console_errors(browser) == []


def test_add_a_position_and_see_it(site, browser) -> None:
    sign_in(browser, site, HNW)
    pid = demo_portfolio_id(HNW)
    browser.get(f"{site['base']}/portfolios/{pid}/positions/")
    css(browser, "#add-position").click()
    wait_for(browser, lambda d: d.current_url.endswith("/positions/new/"))
    from selenium.webdriver.support.ui import Select

    Select(css(browser, "#id_position_type")).select_by_value("SHORT")
    css(browser, "#id_symbol").send_keys("IBM")
    css(browser, "#id_quantity").send_keys("40")  # a short needs a negative quantity: refused first
    css(browser, "#id_entry_price").send_keys("201.25")
    browser.execute_script("document.getElementById('id_entry_date').value = '2026-03-02'")
    css(browser, "#id_tags").send_keys("Hedges")
    css(browser, "#position-form button[type=submit]").click()
    error = wait_for(browser, lambda d: css_all(d, ".field-error"))
    assert "Rule quantity_sign" in error[0].text
    screenshot(browser, "05-position-form-error")
    quantity = css(browser, "#id_quantity")
    quantity.clear()
    quantity.send_keys("-40")
    css(browser, "#position-form button[type=submit]").click()
    row = wait_for(browser, lambda d: css_all(d, '#positions tr.highlight[data-symbol="IBM"]'))[0]
    assert "SHORT" in row.text and "-40" in row.text and "$201.25" in row.text and "Hedges" in row.text
    assert "Added IBM" in css(browser, ".flash").text
    stored = api_get(site, HNW, f"/api/v1/data/portfolios/{pid}/positions?symbol=IBM")["results"]
    assert [(p["position_type"], p["quantity"], p["tags"]) for p in stored] == [("SHORT", -40.0, ["Hedges"])]
    screenshot(browser, "06-position-added")
    ibm = stored[0]["id"]
    pages = (
        ("07-position-edit", f"/positions/{ibm}/edit/"),
        ("08-position-close", f"/positions/{ibm}/close/"),
        ("08b-position-delete", f"/positions/{ibm}/delete/"),
        ("09-positions-import", f"/portfolios/{pid}/positions/import/"),
    )
    for name, path in pages:
        browser.get(site["base"] + path)
        screenshot(browser, name)
    assert console_errors(browser) == []


def test_chat_streams_tokens_and_tool_calls_and_reconnects(site, browser) -> None:
    sign_in(browser, site, HEDGE_FUND)
    pid = demo_portfolio_id(HEDGE_FUND)
    browser.get(f"{site['base']}/portfolios/{pid}/chat/")
    wait_for(browser, lambda d: css(d, "#chat-status").get_attribute("data-state") == "open")
    # Count the text pieces appended to the answer and whether "busy" was shown, as they happen.
    browser.execute_script(
        """
        window.__seen = {tokens: 0, busy: false, toolsBeforeText: null};
        new MutationObserver(function (records) {
          records.forEach(function (r) {
            if (r.target.classList && r.target.classList.contains('msg-text')) {
              window.__seen.tokens += r.addedNodes.length;
              if (window.__seen.toolsBeforeText === null)
                window.__seen.toolsBeforeText = document.querySelectorAll('#messages .tool').length;
            }
          });
          if (document.getElementById('chat').dataset.busy === 'true') window.__seen.busy = true;
        }).observe(document.getElementById('messages'), {childList: true, subtree: true});
        """
    )
    from selenium.webdriver.support.ui import Select

    Select(css(browser, "#chat-mode")).select_by_value("violet")
    css(browser, "#chat-input").send_keys("What is my VaR?")
    css(browser, "#chat-send").click()
    wait_for(browser, lambda d: css(d, "#chat").get_attribute("data-busy") == "false" and css_all(d, ".msg-assistant"))
    seen = browser.execute_script("return window.__seen")
    answer = css_all(browser, ".msg-assistant .msg-text")[-1].text
    var = api_get(site, HEDGE_FUND, f"/api/v1/analytics/portfolios/{pid}/var")["data"]
    assert dollars(var["historical"]["var_99"]) in answer  # a final answer with the stored figure
    assert seen["tokens"] > 5 and seen["busy"] is True  # streamed as written, busy while it did
    assert seen["toolsBeforeText"] >= 1  # the tool call showed before the text
    tool = css_all(browser, ".msg-assistant details.tool")[0]
    assert "get_var" in tool.text and "done" in tool.text
    tool.click()  # collapsible: opens to show arguments and result
    assert "var_99" in css(browser, ".msg-assistant details.tool[open] .tool-body").text
    session_id = css(browser, "#chat").get_attribute("data-session-id")
    assert f"session={session_id}" in browser.current_url
    wait_for(browser, lambda d: "What is my VaR?" in css(d, "#conversations").text)
    session = api_get(site, HEDGE_FUND, f"/api/v1/agent/sessions/{session_id}")
    assert session["mode"] == "violet" and str(session["portfolio_id"]) == str(pid)
    screenshot(browser, "10-chat-answer")

    # Drop the connection: the page says so, reconnects by itself, and the conversation goes on.
    browser.execute_script("document.getElementById('chat').chatClient.socket.close()")
    wait_for(browser, lambda d: css(d, "#chat-status").get_attribute("data-state") == "reconnecting")
    wait_for(browser, lambda d: css(d, "#chat-status").get_attribute("data-state") == "open", timeout=10)
    css(browser, "#chat-input").send_keys("What is my worst stress scenario?")
    css(browser, "#chat-send").click()
    wait_for(
        browser,
        lambda d: len(css_all(d, ".msg-assistant")) == 2 and css(d, "#chat").get_attribute("data-busy") == "false",
    )
    assert css(browser, "#chat").get_attribute("data-session-id") == session_id
    assert "$" in css_all(browser, ".msg-assistant .msg-text")[-1].text
    assert api_get(site, HEDGE_FUND, f"/api/v1/agent/sessions/{session_id}")["message_count"] == 4
    browser.get(f"{site['base']}/portfolios/{pid}/chat/?session={session_id}")  # reopened from the list
    assert len(css_all(browser, ".msg-assistant")) == 2
    wait_for(browser, lambda d: css(d, "#chat-status").get_attribute("data-state") == "open")
    screenshot(browser, "11-chat-reopened")
    assert console_errors(browser) == []


def _mcp_initialize_status(site: dict[str, Any], token: str) -> int:
    """The HTTP status of an MCP ``initialize`` request to the live server's ``/mcp`` with ``token``."""
    body = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}},
    }  # fmt: skip
    request = urllib.request.Request(
        f"{site['base']}/mcp",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_set_a_limit_and_make_a_token_shown_once(site, browser) -> None:
    from selenium.webdriver.support.ui import Select

    sign_in(browser, site, HNW)
    pid = demo_portfolio_id(HNW)
    browser.get(f"{site['base']}/portfolios/{pid}/")
    css(browser, 'nav.tabs a[href$="/limits/"]').click()
    wait_for(browser, lambda d: d.current_url.endswith(f"/portfolios/{pid}/limits/"))
    css(browser, "#limit-new").click()
    wait_for(browser, lambda d: d.current_url.endswith("/limits/new/"))
    Select(css(browser, "#id_metric")).select_by_value("var_99_pct_equity")
    css(browser, "#id_warning_level").send_keys("0.08")  # warning above the hard level: refused first
    css(browser, "#id_hard_level").send_keys("0.05")
    css(browser, "#limit-form button[type=submit]").click()
    error = wait_for(browser, lambda d: css_all(d, ".field.has-error .field-error"))
    assert error[0].text
    screenshot(browser, "16-limit-form-error")
    hard = css(browser, "#id_hard_level")
    hard.clear()
    hard.send_keys("0.1")
    css(browser, "#limit-form button[type=submit]").click()
    row = wait_for(browser, lambda d: css_all(d, '#limits-table tr[data-limit="var_99_pct_equity"]'))[0]
    assert "0.0800" in row.text and "0.1000" in row.text and "not evaluated yet" in row.text
    stored = api_get(site, HNW, f"/api/v1/analytics/portfolios/{pid}/limits/definitions")["results"]
    assert [(x["metric"], x["warning_level"], x["hard_level"]) for x in stored] == [("var_99_pct_equity", 0.08, 0.1)]
    screenshot(browser, "17-limits")

    # A personal access token from the user menu: shown once, works on /mcp until revoked.
    css(browser, ".user-menu summary").click()
    css(browser, '.user-menu a[href="/account/tokens/"]').click()
    wait_for(browser, lambda d: d.current_url.endswith("/account/tokens/"))
    css(browser, "#id_name").send_keys("Claude Desktop")
    css(browser, "#token-form button[type=submit]").click()
    raw = wait_for(browser, lambda d: css_all(d, "#new-token"))[0].text.strip()
    assert raw.startswith("ssa_") and "/mcp" in css(browser, "#mcp-config").text
    screenshot(browser, "18-token-created")
    assert _mcp_initialize_status(site, raw) == 200
    browser.get(f"{site['base']}/account/tokens/")
    assert raw not in browser.page_source and raw[:12] in browser.page_source
    css(browser, '#tokens-table tr[data-state="active"] a.btn-danger-ghost').click()
    css(browser, "#revoke-form button[type=submit]").click()
    wait_for(browser, lambda d: css_all(d, '#tokens-table tr[data-state="revoked"]'))
    assert _mcp_initialize_status(site, raw) == 401
    screenshot(browser, "19-token-revoked")
    browser.get(f"{site['base']}/portfolios/{pid}/settings/")
    assert css(browser, "#id_benchmark_symbol").get_attribute("value")
    screenshot(browser, "20-portfolio-settings")
    assert console_errors(browser) == []


def test_another_users_dashboard_is_a_404_page(site, browser) -> None:
    sign_in(browser, site, HEDGE_FUND)
    console_errors(browser)  # drain
    theirs = demo_portfolio_id(INDIVIDUAL)
    for path in (f"/portfolios/{theirs}/", f"/portfolios/{theirs}/positions/", f"/portfolios/{theirs}/chat/"):
        browser.get(site["base"] + path)
        assert css(browser, "h1").text == "Not found"
        assert "Demo Individual" not in browser.page_source
    screenshot(browser, "12-not-found")
    # The only console entries: the 404 status of those documents themselves.
    assert console_errors(browser, allow=("404 (Not Found)",)) == []


def test_the_remaining_pages_render_cleanly(site, browser) -> None:
    sign_in(browser, site, INDIVIDUAL)
    pid = demo_portfolio_id(INDIVIDUAL)
    for name, path in (("13-individual-dashboard", f"/portfolios/{pid}/"), ("14-password-change", "/account/password/"),
                       ("15-browsable-api", f"/api/v1/data/portfolios/{pid}")):  # fmt: skip
        browser.get(site["base"] + path)
        screenshot(browser, name)
        assert console_errors(browser) == [], name
    browser.set_window_size(1280, 800)  # a laptop
    browser.get(f"{site['base']}/portfolios/{pid}/")
    overflow = browser.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
    assert not overflow
    browser.set_window_size(1440, 900)
