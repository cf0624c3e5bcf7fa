"""`tiergate pricing list | show | compare | import` and `tiergate report`."""

from __future__ import annotations

import argparse
import datetime
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pricing.catalog import Catalog
    from pricing.cost import Price
    from pricing.report import Report
    from router.settings import Settings

DAYS_PER_MONTH = 30


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pricing = subparsers.add_parser("pricing", help="the model price catalog and cost calculator")
    commands = pricing.add_subparsers(dest="pricing_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="every model in the catalog")
    listing.add_argument("--provider", action="append", help="only this provider (repeatable)")
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="one model's prices, limits and source")
    show.add_argument("model", help="provider/model or a bare model name")
    show.set_defaults(func=run_show)

    compare = commands.add_parser(
        "compare", help="what a daily token mix costs on each model, cheapest first"
    )
    compare.add_argument("--input-tokens", type=int, required=True, help="input tokens per day")
    compare.add_argument("--output-tokens", type=int, required=True, help="output tokens per day")
    compare.add_argument("--cached-tokens", type=int, default=0, help="of the input, tokens read from cache")
    compare.add_argument(
        "--per", choices=("day", "month"), default="day", help=f"month = {DAYS_PER_MONTH} days"
    )
    compare.add_argument("--provider", action="append", help="only this provider (repeatable)")
    compare.add_argument(
        "--needs", default="", help="comma list of capabilities: tools,vision,json_schema,reasoning"
    )
    compare.add_argument("--limit", type=int, default=25, help="rows shown (0 = all)")
    compare.set_defaults(func=run_compare)

    importer = commands.add_parser(
        "import", help="merge a price file (ours or the community map) into the overlay"
    )
    importer.add_argument("file", type=Path)
    importer.add_argument(
        "--to", type=Path, help="overlay file (default $TIERGATE_CATALOG or ~/.config/tiergate)"
    )
    importer.set_defaults(func=run_import)

    for parser in (listing, show, compare):
        parser.add_argument("--config", help="gateway config whose model prices override the catalog")

    report = subparsers.add_parser("report", help="spend vs an all-baseline-model bill, from the request log")
    report.add_argument(
        "--config", help="gateway config (database_url, models, routing); else $TIERGATE_CONFIG"
    )
    report.add_argument("--baseline", help="model to compare with (default routing.baseline, else gpt-4o)")
    report.add_argument("--since", help="e.g. 7d, 24h, 2w, or an ISO date (default: the whole log)")
    report.add_argument("--group-by", choices=("tier", "model", "day", "key"), default="tier")
    report.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
    report.add_argument("--out", type=Path, help="write here instead of stdout")
    report.add_argument(
        "--baseline-output",
        choices=("same", "visible"),
        default="same",
        help="how long the baseline's answers are assumed to be (stated in the report)",
    )
    report.add_argument(
        "--policy", type=Path, help="what-if: re-price the log under this policy/routing file"
    )
    report.set_defaults(func=run_report)


def _fail(message: str) -> int:
    print(f"tiergate: {message}", file=sys.stderr)
    return 2


def _settings(path: str | None) -> Settings:
    from router.settings import load_settings

    return load_settings(path)


def effective_catalog(settings: Settings | None) -> Catalog:
    """The catalog (shipped + overlay) with the config's own prices laid over the entries they name."""
    from pricing.catalog import CatalogModel, decimal_text, load_catalog

    catalog = load_catalog()
    if settings is None:
        return catalog
    overrides: list[CatalogModel] = []
    for config in settings.models.values():
        if not (config.input_per_mtok or config.output_per_mtok):
            continue
        dep = config.all_deployments()[0]
        known = catalog.get(f"{dep.provider}/{dep.upstream}") or catalog.get(dep.upstream)

        def text(value: float | None) -> str | None:
            return None if value is None else decimal_text(Decimal(str(value)))

        overrides.append(
            CatalogModel(
                provider=known.provider if known else dep.provider,
                model=known.model if known else dep.upstream,
                input=text(config.input_per_mtok) or "0",
                output=text(config.output_per_mtok) or "0",
                cached_input=text(config.cached_input_per_mtok),
                reasoning=text(config.reasoning_per_mtok),
                cache_write=text(config.cache_write_per_mtok),
                context_window=config.context_window,
                max_output=config.max_output,
                capabilities=list(config.capabilities),
                source=f"config {settings.source}",
                checked=known.checked if known else "",
            )
        )
    return catalog.merged(overrides)


def run_list(args: argparse.Namespace) -> int:
    catalog = effective_catalog(_settings(args.config) if args.config else None)
    wanted = set(args.provider or ())
    print(f"{'model':<48} {'in $/1M':>9} {'out $/1M':>9} {'cached':>8} {'context':>9}  capabilities")
    shown = 0
    for m in catalog:
        if wanted and m.provider not in wanted:
            continue
        caps = ",".join(c for c in m.capabilities if c != "streaming")
        context = f"{m.context_window:,}" if m.context_window else "-"
        print(f"{m.key[:48]:<48} {m.input:>9} {m.output:>9} {m.cached_input or '-':>8} {context:>9}  {caps}")
        shown += 1
    print(
        f"\n{shown} models from {len({m.provider for m in catalog if not wanted or m.provider in wanted})} providers"
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    catalog = effective_catalog(_settings(args.config) if args.config else None)
    model = catalog.get(args.model)
    if model is None:
        return _fail(f"no model {args.model!r} in the catalog (try `tiergate pricing list`)")
    rows = [
        ("model", model.key),
        ("input", f"${model.input} per 1M tokens"),
        ("output", f"${model.output} per 1M tokens"),
        ("cached input", f"${model.cached_input} per 1M tokens" if model.cached_input else "same as input"),
        ("cache write", f"${model.cache_write} per 1M tokens" if model.cache_write else "same as input"),
        ("reasoning", f"${model.reasoning} per 1M tokens" if model.reasoning else "same as output"),
        ("context window", f"{model.context_window:,}" if model.context_window else "unknown"),
        ("max output", f"{model.max_output:,}" if model.max_output else "unknown"),
        ("capabilities", ", ".join(model.capabilities) or "-"),
        ("source", model.source or "-"),
        ("checked", model.checked or "-"),
    ]
    for name, value in rows:
        print(f"{name:<15} {value}")
    return 0


def compare_rows(
    catalog: Catalog,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    providers: set[str],
    needs: set[str],
) -> list[tuple[str, Decimal]]:
    from pricing.cost import Tokens, request_cost

    usage = Tokens(prompt_tokens=input_tokens, completion_tokens=output_tokens, cached_tokens=cached_tokens)
    rows = [
        (m.key, request_cost(m.price, usage))
        for m in catalog
        if (not providers or m.provider in providers) and needs <= set(m.capabilities)
    ]
    rows.sort(key=lambda row: (row[1], row[0]))
    return rows


def run_compare(args: argparse.Namespace) -> int:
    from pricing.cost import cents

    if min(args.input_tokens, args.output_tokens, args.cached_tokens) < 0:
        return _fail("token counts must not be negative")
    catalog = effective_catalog(_settings(args.config) if args.config else None)
    needs = {n.strip() for n in args.needs.split(",") if n.strip()}
    rows = compare_rows(
        catalog, args.input_tokens, args.output_tokens, args.cached_tokens, set(args.provider or ()), needs
    )
    factor = DAYS_PER_MONTH if args.per == "month" else 1
    print(
        f"{args.input_tokens:,} input ({args.cached_tokens:,} cached) + {args.output_tokens:,} output tokens a day, "
        f"cost per {args.per}" + (f" ({DAYS_PER_MONTH} days)" if factor > 1 else "")
    )
    print(f"{'#':>4}  {'model':<48} {'cost USD':>14}")
    shown = rows if args.limit == 0 else rows[: args.limit]
    for rank, (key, cost) in enumerate(shown, 1):
        print(f"{rank:>4}  {key[:48]:<48} {cents(cost * factor):>14,}")
    if len(shown) < len(rows):
        print(f"      ... {len(rows) - len(shown)} more (--limit 0 shows all)")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from pricing.catalog import CatalogError, import_file, overlay_path

    target = args.to or overlay_path()
    try:
        added, replaced = import_file(args.file, target, checked=datetime.date.today().isoformat())
    except CatalogError as exc:
        return _fail(str(exc))
    print(f"imported {added + replaced} models into {target} ({added} new, {replaced} replaced)")
    return 0


def baseline_price(name: str, settings: Settings, catalog: Catalog | None = None) -> Price | None:
    """The baseline's price: the config's model (or `provider/model`), else the catalog's entry."""
    from router.catalog import ModelIndex

    model = ModelIndex(settings, catalog).resolve(name)
    if model is not None and (model.price.input_per_mtok or model.price.output_per_mtok):
        return model.price
    from pricing.catalog import load_catalog

    entry = (catalog or load_catalog()).get(name)
    return entry.price if entry is not None else None


def run_report(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from pricing.logrows import SinceError, fetch_rows, parse_since
    from pricing.quality import load_quality
    from pricing.report import build_report
    from pricing.whatif import PolicyError, load_policy, reprice
    from router.log.store import make_engine
    from router.settings import ConfigError

    try:
        settings = _settings(args.config)
        since = parse_since(args.since) if args.since else None
    except (ConfigError, SinceError) as exc:
        return _fail(str(exc))
    baseline = args.baseline or settings.routing.baseline or "gpt-4o"
    price = baseline_price(baseline, settings)
    if price is None:
        return _fail(f"baseline {baseline!r} is neither a configured model nor in the pricing catalog")
    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table("requests"):
            return _fail(f"no request log in {engine.url!r}: run `tiergate db upgrade` and send some traffic")
        rows = fetch_rows(engine, since)
        quality = load_quality(engine, (r.id for r in rows))
    finally:
        engine.dispose()
    report = build_report(rows, baseline, price, args.group_by, args.baseline_output, since, quality)
    if args.policy:
        try:
            report.whatif = reprice(
                rows, load_policy(args.policy, settings), str(args.policy), args.baseline_output
            )
        except PolicyError as exc:
            return _fail(str(exc))
    text = render(report, args.format)
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.format} report to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def render(report: Report, fmt: str) -> str:
    from pricing.html import render_html
    from pricing.render import render_csv, render_json, render_table

    renderers = {"table": render_table, "json": render_json, "csv": render_csv, "html": render_html}
    return renderers[fmt](report)
