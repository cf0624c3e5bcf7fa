"""The console end to end in real headless Chromium: one browser session for the whole flow.

Screenshots of each page go to artifacts/console/ (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import yaml

from router.cli import main
from tests.conftest import Gateway, GatewayFactory
from tests.router.console.test_console_auth import MASTER
from tests.router.test_request_log import wait_rows

CHROMIUM = os.environ.get("TIERGATE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "console"


@pytest.fixture
def browser_page() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; never `playwright install`)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def chat(gateway: Gateway, key: str, prompt: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": prompt}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


TRAFFIC = [
    "Translate 'good morning' into French.",
    "What's a good name for a goldfish?",
    "Solve for x: 3x + 7 = 22, and show each step.",
    "Prove that the sum of two odd integers is even. Think step by step.",
    "Analyse the trade-offs between a monolith and microservices for a five-person startup, considering "
    "deployment, team structure, observability and cost, and recommend a strategy.",
]


def test_console_flow_in_chromium(
    browser_page: Any,
    make_gateway: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    gateway: Gateway = make_gateway()
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Log in.
    page.goto(f"{gateway.url}/ui")
    assert page.url.startswith(f"{gateway.url}/ui/login")
    shot(page, "login")
    page.fill("input[name=key]", MASTER)
    page.click("button[type=submit]")
    page.wait_for_url(f"{gateway.url}/ui/playground")
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "tiergate_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and MASTER not in session["value"]
    assert page.evaluate("document.cookie") == ""  # invisible to scripts

    # Playground: one prompt, `auto` and a chosen model side by side, streamed.
    page.check("input[name=model][value='gpt-4o-mini']")
    page.click("#send")
    auto = page.locator(".result[data-model='auto']")
    chosen = page.locator(".result[data-model='gpt-4o-mini']")
    for card in (auto, chosen):
        card.locator(".status", has_text="done").wait_for()
    assert chosen.locator(".routed-model").inner_text() == "gpt-4o-mini"
    assert auto.locator(".routed-model").inner_text() in {"deepseek-v3", "gpt-4o-mini"}
    assert auto.locator(".tier").inner_text().startswith("simple")
    assert auto.locator(".scores").inner_text().startswith("difficulty=")
    assert auto.locator(".answer").inner_text().strip()
    rows = {r["id"]: r for r in wait_rows(gateway.engine, 2)}
    chosen_row = rows[chosen.get_attribute("data-request-id")]
    cost = format(Decimal(str(chosen_row["cost_usd"])).normalize(), "f")
    assert Decimal(cost) > 0 and chosen.locator(".cost").inner_text() == f"${cost}"
    assert "gpt-4o-mini@openai 200" in chosen.locator(".attempts").inner_text()
    assert chosen.locator(".tokens").inner_text() == (
        f"{chosen_row['prompt_tokens']} in / {chosen_row['completion_tokens']} out"
    )
    assert "(first token " in auto.locator(".latency").inner_text()  # streamed: TTFT from the log row
    shot(page, "playground")

    # Keys: create one (its secret shown once), use it, revoke it, and it stops working at once.
    page.click("nav a[href='/ui/keys']")
    page.fill("#key-name", "browser-key")
    page.click("#create-key")
    secret = page.locator("#new-key").inner_text()
    assert (
        secret
        and page.locator("table.keys tr", has_text="browser-key").locator(".state").inner_text() == "active"
    )
    shot(page, "keys")
    assert chat(gateway, secret, "hello from a new key").status_code == 200
    key_row = page.locator("table.keys tr", has_text="browser-key")
    for _ in range(50):  # the spend column reads the request log, written in batches
        page.goto(f"{gateway.url}/ui/keys")
        if key_row.locator(".spent").inner_text() != "$0.000000":
            break
    assert key_row.locator(".spent").inner_text().startswith("$0.0000")
    assert key_row.locator(".spent").inner_text() != "$0.000000"
    page.locator("table.keys tr", has_text="browser-key").locator("button.revoke").click()
    page.wait_for_url(f"{gateway.url}/ui/keys")
    assert page.locator("table.keys tr", has_text="browser-key").locator(".state").inner_text() == "revoked"
    assert secret not in page.content()
    assert chat(gateway, secret, "hello again").status_code == 401

    # Traffic across tiers, then the dashboard shows the figures `tiergate report` prints.
    for prompt in TRAFFIC:
        assert chat(gateway, MASTER, prompt).status_code == 200
    total = 2 + 2 + len(TRAFFIC)  # playground, the key's two calls (the refused one is logged too), traffic
    wait_rows(gateway.engine, total)
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(msgspec.to_builtins(gateway.settings)))
    assert main(["report", "--config", str(config), "--format", "json", "--since", "7d"]) == 0
    cli = json.loads(capsys.readouterr().out)["total"]
    assert main(["report", "--config", str(config), "--since", "7d"]) == 0
    table = capsys.readouterr().out
    saved_line = next(line for line in table.splitlines() if line.startswith("saved $"))
    page.click("nav a[href='/ui/dashboard']")
    saved = page.locator(".card.saved")
    assert saved.locator(".big").get_attribute("data-exact") == cli["saved_usd"]
    assert page.locator(".card.spend .big").get_attribute("data-exact") == cli["spend_usd"]
    assert page.locator(".card.requests .big").inner_text() == str(cli["requests"]) == str(total)
    shown = f"saved {saved.locator('.big').inner_text()} ({saved.locator('.small').last.inner_text()})"
    assert saved_line.startswith(shown), (saved_line, shown)
    assert Decimal(cli["saved_usd"]) > 0
    shot(page, "dashboard")
    # Filter by the revoked key: exactly its one request.
    key_ids = [r["key_id"] for r in wait_rows(gateway.engine, total)]
    key_id = page.locator("#key option").nth(1).get_attribute("value")
    page.select_option("#key", key_id)
    page.click("form.filters button")
    page.wait_for_url("**key=**")
    assert page.locator(".card.requests .big").inner_text() == str(key_ids.count(key_id))

    # Pricing: the calculator, the seed's mix on GPT-4o.
    page.click("nav a[href='/ui/pricing']")
    page.fill("input[name=q]", "gpt-4o")
    page.fill("#input_tokens", "10000000")
    page.fill("#output_tokens", "5000000")
    page.click("#calculate")
    page.wait_for_load_state()
    row = page.locator("table.pricing tr", has=page.get_by_text("openai/gpt-4o", exact=True))
    assert row.locator(".per-day").inner_text() == "$75.00"
    assert row.locator(".per-month").inner_text() == "$2,250.00"
    shot(page, "pricing")

    assert errors == []
