"""The configured models as the gateway uses them: names, aliases, prices, deployments."""

from __future__ import annotations

from dataclasses import dataclass

from pricing.catalog import Catalog, load_catalog
from pricing.cost import Price
from router.providers.base import ProviderAdapter
from router.providers.registry import adapter_for
from router.settings import TIERS, Capability, ModelConfig, ProviderConfig, Settings, Tier

TIER_RANK: dict[Tier, int] = {tier: rank for rank, tier in enumerate(TIERS)}


@dataclass(frozen=True, slots=True)
class Deployment:
    provider_name: str
    provider: ProviderConfig
    adapter: ProviderAdapter
    upstream: str
    weight: float

    @property
    def key(self) -> str:
        return f"{self.provider_name}/{self.upstream}"


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    config: ModelConfig
    price: Price
    deployments: tuple[Deployment, ...]

    @property
    def tier(self) -> Tier:
        return self.config.tier

    def supports(self, capability: str) -> bool:
        return capability in self.config.capabilities


def _price(config: ModelConfig, provider: str, upstream: str, catalog: Catalog | None) -> Price:
    """The config's prices; a model configured without any falls back to the pricing catalog's entry
    for `provider/upstream` (then the bare upstream name), else stays at zero."""
    if config.input_per_mtok or config.output_per_mtok or catalog is None:
        return Price.of(
            config.input_per_mtok,
            config.output_per_mtok,
            config.cached_input_per_mtok,
            config.reasoning_per_mtok,
            config.cache_write_per_mtok,
        )
    entry = catalog.get(f"{provider}/{upstream}") or catalog.get(upstream)
    return entry.price if entry is not None else Price.of(0, 0)


class ModelIndex:
    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self._catalog = catalog
        self.models: dict[str, Model] = {}
        self._names: dict[str, Model] = {}
        for name, config in settings.models.items():
            deployments = tuple(
                Deployment(
                    provider_name=dep.provider,
                    provider=settings.providers[dep.provider],
                    adapter=adapter_for(settings.providers[dep.provider].kind),
                    upstream=dep.upstream,
                    weight=dep.weight,
                )
                for dep in config.all_deployments()
            )
            first = deployments[0]
            price = _price(config, first.provider_name, first.upstream, self.catalog(config))
            model = Model(name=name, config=config, price=price, deployments=deployments)
            self.models[name] = model
            for alias in (name, *config.aliases):
                self._names[alias] = model
            for dep in deployments:
                self._names.setdefault(dep.key, model)
        self._settings = settings

    def resolve(self, name: str) -> Model | None:
        """A configured name, an alias, or `provider/upstream-model`."""
        model = self._names.get(name)
        if model is not None:
            return model
        provider_name, sep, upstream = name.partition("/")
        provider = self._settings.providers.get(provider_name) if sep else None
        if provider is None or not upstream:
            return None
        # A model the config does not list: routed as asked, priced from the catalog (zero if unknown there).
        config = ModelConfig(provider=provider_name, upstream=upstream, capabilities=list(_ALL_CAPABILITIES))
        deployment = Deployment(provider_name, provider, adapter_for(provider.kind), upstream, 1.0)
        price = _price(config, provider_name, upstream, self.catalog(config))
        return Model(name=name, config=config, price=price, deployments=(deployment,))

    def catalog(self, config: ModelConfig) -> Catalog | None:
        """Loaded on first need only: a config that prices every model never reads the catalog."""
        if config.input_per_mtok or config.output_per_mtok:
            return None
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog


_ALL_CAPABILITIES: tuple[Capability, ...] = ("tools", "vision", "json_schema", "streaming", "reasoning")
