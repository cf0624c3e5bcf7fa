"""The console's login: master key only, signed HTTP-only cookie, CSRF on forms, logout ends the session."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import msgspec
import pytest
import yaml

from router.cli import main
from router.console.session import COOKIE, ConsoleAuth
from tests.conftest import Gateway, GatewayFactory

MASTER = "sk-master-test-0123456789abcdef"


@pytest.fixture
def console(make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("TIERGATE_MASTER_KEY", MASTER)
    return make_gateway()


def login(gateway: Gateway, key: str = MASTER) -> httpx.Client:
    client = httpx.Client(base_url=gateway.url, timeout=30)
    response = client.post("/ui/login", data={"key": key, "next": "/ui/pricing"})
    if key == MASTER:
        assert response.status_code == 303 and response.headers["location"] == "/ui/pricing"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert MASTER.lower() not in cookie
    return client


def test_pages_need_a_session(console: Gateway) -> None:
    for path in ("/ui", "/ui/playground", "/ui/dashboard", "/ui/pricing", "/ui/keys"):
        response = httpx.get(console.url + path)
        assert response.status_code == 303 and response.headers["location"].startswith("/ui/login"), path
    assert httpx.get(console.url + "/ui/api/requests/x").status_code == 401


def test_wrong_key_and_forged_cookie_are_refused(console: Gateway) -> None:
    response = httpx.post(console.url + "/ui/login", data={"key": "nope"})
    assert response.status_code == 401 and "not the master key" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")
    forged = ConsoleAuth("some-other-key").issue()
    response = httpx.get(console.url + "/ui/pricing", cookies={COOKIE: forged})
    assert response.status_code == 303


def test_session_pages_playground_call_and_logout(console: Gateway) -> None:
    client = login(console)
    page = client.get("/ui/playground")
    assert page.status_code == 200 and 'value="gpt-4o-mini"' in page.text
    assert MASTER not in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    # The playground's call: cookie plus the console header, no key of its own.
    response = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-tiergate-console": "1"},
    )
    assert response.status_code == 200 and response.headers["x-tiergate-model"] == "gpt-4o-mini"
    # A form post without the session's CSRF token is refused; with it, logout ends the session.
    assert client.post("/ui/logout", data={"csrf": "wrong"}).status_code == 403
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    stolen = dict(client.cookies)
    assert client.post("/ui/logout", data={"csrf": csrf}).status_code == 303
    assert httpx.get(console.url + "/ui/pricing", cookies=stolen).status_code == 303


def test_open_redirect_is_refused(console: Gateway) -> None:
    client = httpx.Client(base_url=console.url)
    response = client.post("/ui/login", data={"key": MASTER, "next": "https://evil.example/"})
    assert response.headers["location"] == "/ui/playground"


def test_without_a_master_key_the_console_says_so(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERGATE_MASTER_KEY", raising=False)
    gateway = make_gateway()
    response = httpx.get(gateway.url + "/ui/login")
    assert response.status_code == 503 and "TIERGATE_MASTER_KEY" in response.text
    assert httpx.post(gateway.url + "/ui/login", data={"key": ""}).status_code == 503


def test_pricing_calculator_is_tiergate_pricing_compare(
    console: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = login(console)
    mix = {"input_tokens": "10000000", "output_tokens": "5000000", "cached_tokens": "2000000", "tools": "1"}
    page = client.get("/ui/pricing", params=mix)
    assert page.status_code == 200
    shown = re.findall(
        r'<span class="model">([^<]+)</span>.*?<span class="per-month">\$([^<]+)</span>', page.text
    )
    config = tmp_path / "tiergate.yaml"
    config.write_text(yaml.safe_dump(msgspec.to_builtins(console.settings)))
    argv = [
        "pricing",
        "compare",
        "--config",
        str(config),
        "--per",
        "month",
        "--limit",
        "0",
        "--needs",
        "tools",
    ]
    argv += ["--input-tokens", "10000000", "--output-tokens", "5000000", "--cached-tokens", "2000000"]
    assert main(argv) == 0
    printed = re.findall(r"^\s+\d+\s+(\S+)\s+([\d,.]+)$", capsys.readouterr().out, re.MULTILINE)
    assert len(shown) > 100
    assert [(model[:48], month) for model, month in shown] == printed[
        : len(shown)
    ]  # the CLI cuts names at 48
    # gpt-4o as configured ($2.50 in, $1.25 cached in, $10 out per 1M): 8M + 2M cached + 5M out a day
    # = $20 + $2.50 + $50 = $72.50 a day, $2,175.00 a month.
    assert ("openai/gpt-4o", "2,175.00") in shown


def test_key_form_creates_once(console: Gateway) -> None:
    client = login(console)
    page = client.get("/ui/keys").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    once = page.split('name="once" value="', 1)[1].split('"', 1)[0]
    form = {"csrf": csrf, "once": once, "name": "twice-posted", "budget_usd": "5"}
    first = client.post("/ui/keys", data=form)
    assert first.status_code == 200 and 'id="new-key"' in first.text
    again = client.post("/ui/keys", data=form)
    assert again.status_code == 400 and "already used" in again.text and 'id="new-key"' not in again.text
    assert again.text.count('<span class="key-name">twice-posted<') == 1
    bad = client.post("/ui/keys", data={**form, "once": "other", "budget_usd": "-1"})
    assert bad.status_code == 400 and "budget_usd must be positive" in bad.text
    assert client.post("/ui/keys", data={**form, "csrf": "forged", "once": "x"}).status_code == 403


def test_key_form_refuses_a_name_no_database_can_store(console: Gateway) -> None:
    client = login(console)
    page = client.get("/ui/keys").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for index, (field, value, said) in enumerate(
        [
            ("name", "a\u0000b", "the key name is one line of printable text"),
            ("name", "n" * 201, "the key name is at most 200 characters"),
            ("models", "gpt-4o, m\u0000", "a model name is one line of printable text"),
        ]
    ):
        form = {"csrf": csrf, "once": f"bad-{index}", "name": "fine", field: value}
        refused = client.post("/ui/keys", data=form)
        assert refused.status_code == 400 and said in refused.text and 'id="new-key"' not in refused.text
