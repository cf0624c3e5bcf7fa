"""The shipped catalog, its generator, user imports, config overrides, and the gateway pricing from it."""

from __future__ import annotations

import datetime
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from sqlalchemy import select

from pricing.build_catalog import CHECKED, build
from pricing.catalog import SHIPPED, Catalog, encode_file, load_catalog, read_models, shipped_catalog
from pricing.cost import Tokens, request_cost
from router.catalog import ModelIndex
from router.cli import main
from router.log.schema import requests
from router.settings import Settings
from tests.conftest import GatewayFactory

REFERENCE = Path("/work/shared/reference/model-prices-litellm.json")
CAPABILITIES = {"streaming", "tools", "vision", "json_schema", "reasoning"}


def test_shipped_catalog_is_big_enough_and_well_formed() -> None:
    catalog = shipped_catalog()
    assert len(catalog) >= 200
    assert len(catalog.providers()) >= 10
    for model in catalog:
        for price in (model.input, model.output, model.cached_input, model.cache_write, model.reasoning):
            if price is not None:
                assert "E" not in price and Decimal(price) >= 0, (model.key, price)
        assert model.source.startswith("https://"), model.key
        datetime.date.fromisoformat(model.checked)
        assert set(model.capabilities) <= CAPABILITIES and "streaming" in model.capabilities
        assert model.context_window is None or model.context_window > 0


def test_facts_convert_exactly() -> None:
    catalog = shipped_catalog()
    mini = catalog.get("openai/gpt-4o-mini")
    sonnet = catalog.get("anthropic/claude-sonnet-4-5")
    deep = catalog.get("perplexity/sonar-deep-research")
    assert mini is not None and (mini.input, mini.output, mini.cached_input) == ("0.15", "0.6", "0.075")
    assert sonnet is not None and (sonnet.cached_input, sonnet.cache_write) == ("0.3", "3.75")
    assert sonnet.context_window == 200_000 and sonnet.supports("vision") and sonnet.supports("tools")
    assert deep is not None and deep.reasoning == "3"  # stored only where it differs from output
    assert mini.reasoning is None


@pytest.mark.skipif(not REFERENCE.exists(), reason="the community price map is not at ../shared/reference")
def test_generator_reproduces_the_shipped_file() -> None:
    models = build(REFERENCE, CHECKED)
    assert encode_file(models, generated_from=REFERENCE.name) == SHIPPED.read_bytes()


def test_lookup_by_key_and_bare_name() -> None:
    catalog = shipped_catalog()
    assert catalog.get("gpt-4o") is catalog.get("openai/gpt-4o")
    chat = catalog.get("deepseek-chat")
    assert chat is not None and chat.provider == "deepseek"
    assert catalog.get("no-such-model") is None


def _community(path: Path, entries: dict[str, dict[str, Any]]) -> Path:
    path.write_text(json.dumps(entries))
    return path


def test_import_community_then_ours(
    tmp_path: Path, _private_overlay: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _community(
        tmp_path / "prices.json",
        {
            "gpt-4o": {
                "litellm_provider": "openai",
                "mode": "chat",
                "input_cost_per_token": 2e-06,
                "output_cost_per_token": 8e-06,
                "cache_read_input_token_cost": 1e-06,
                "max_input_tokens": 128000,
                "supports_function_calling": True,
            },
            "acme/rocket-1": {
                "litellm_provider": "acme",
                "mode": "chat",
                "input_cost_per_token": 1.1e-07,
                "output_cost_per_token": 3.3e-07,
                "source": "https://acme.example/pricing",
            },
            "acme/embedder": {"litellm_provider": "acme", "mode": "embedding", "input_cost_per_token": 1e-08},
        },
    )
    assert main(["pricing", "import", str(source)]) == 0
    assert "2 models" in capsys.readouterr().out and _private_overlay.exists()
    catalog = load_catalog()
    gpt = catalog.get("gpt-4o")
    rocket = catalog.get("acme/rocket-1")
    assert gpt is not None and (gpt.input, gpt.output, gpt.cached_input) == ("2", "8", "1")
    assert rocket is not None and (rocket.input, rocket.output) == ("0.11", "0.33")
    assert rocket.checked == datetime.date.today().isoformat()
    assert catalog.get("acme/embedder") is None
    assert len(catalog) == len(shipped_catalog()) + 1

    # Our own format merges too, and replaces what it names.
    ours = tmp_path / "ours.json"
    assert rocket is not None
    ours.write_bytes(encode_file([msgspec.structs.replace(rocket, input="0.09")]))
    assert main(["pricing", "import", str(ours)]) == 0
    assert "0 new, 1 replaced" in capsys.readouterr().out
    again = load_catalog().get("acme/rocket-1")
    assert again is not None and again.input == "0.09"
    assert {m.key for m in read_models(_private_overlay)} == {"openai/gpt-4o", "acme/rocket-1"}

    assert main(["pricing", "show", "gpt-4o"]) == 0
    assert "$2 per 1M" in capsys.readouterr().out


def test_import_rejects_junk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["pricing", "import", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    empty = _community(tmp_path / "empty.json", {"x": {"mode": "embedding"}})
    assert main(["pricing", "import", str(empty)]) == 2
    assert "no chat models" in capsys.readouterr().err


def _config_file(tmp_path: Path, models: dict[str, Any]) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(
        yaml.safe_dump({"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}, "models": models})
    )
    return path


def test_config_prices_override_the_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_file(
        tmp_path,
        {
            "house-4o": {
                "provider": "openai",
                "upstream": "gpt-4o",
                "input_per_mtok": 2.0,
                "output_per_mtok": 7.5,
            }
        },
    )
    assert main(["pricing", "show", "openai/gpt-4o", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "$2 per 1M" in out and "$7.5 per 1M" in out and "config" in out


def test_model_index_fills_missing_prices_from_the_catalog() -> None:
    settings = msgspec.convert(
        {
            "providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}},
            "models": {
                "nano": {"provider": "openai", "upstream": "gpt-4.1-nano"},
                "priced": {
                    "provider": "openai",
                    "upstream": "gpt-4.1-nano",
                    "input_per_mtok": 9,
                    "output_per_mtok": 9,
                },
                "unknown": {"provider": "openai", "upstream": "not-in-any-catalog"},
            },
        },
        Settings,
    )
    index = ModelIndex(settings)
    nano, priced, unknown = index.models["nano"], index.models["priced"], index.models["unknown"]
    assert (nano.price.input_per_mtok, nano.price.output_per_mtok) == (Decimal("0.1"), Decimal("0.4"))
    assert nano.price.cached_input_per_mtok == Decimal("0.025")
    assert priced.price.input_per_mtok == Decimal(9)  # the config wins
    assert unknown.price.input_per_mtok == 0
    adhoc = index.resolve("openai/gpt-4.1-mini")  # not configured at all
    assert adhoc is not None and adhoc.price.output_per_mtok == Decimal("1.6")
    # An injected catalog is used instead of the shipped one.
    empty = ModelIndex(settings, Catalog([]))
    assert empty.models["nano"].price.input_per_mtok == 0


def test_gateway_prices_unconfigured_models_from_the_catalog(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway(overrides={"models": {"nano": {"provider": "openai", "upstream": "gpt-4.1-nano"}}})
    client = gateway.client()
    for name, request_id in (("openai/gpt-4.1-mini", "adhoc"), ("nano", "nano")):
        raw = client.chat.completions.with_raw_response.create(
            model=name,
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-request-id": request_id},
        )
        usage = raw.parse().usage
        assert usage is not None
        per_mtok = {"adhoc": (Decimal("0.4"), Decimal("1.6")), "nano": (Decimal("0.1"), Decimal("0.4"))}[
            request_id
        ]
        expected = (usage.prompt_tokens * per_mtok[0] + usage.completion_tokens * per_mtok[1]) / 10**6
        assert Decimal(raw.headers["x-tiergate-cost-usd"]) == expected.quantize(Decimal("1E-8"))
        assert expected > 0
    deadline = time.monotonic() + 15
    rows: dict[str, Any] = {}
    while len(rows) < 2 and time.monotonic() < deadline:
        with gateway.engine.connect() as connection:
            rows = {r.id: r for r in connection.execute(select(requests))}
        time.sleep(0.1)
    for row in rows.values():
        price = load_catalog().get("gpt-4.1-mini" if row.id == "adhoc" else "gpt-4.1-nano")
        assert price is not None
        assert Decimal(row.cost_usd) == request_cost(
            price.price, Tokens(row.prompt_tokens, row.completion_tokens)
        )
