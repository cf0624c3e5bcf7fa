"""The configured models as the gateway uses them: names, aliases, prices, deployments."""

from __future__ import annotations

from dataclasses import dataclass

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


def _price(config: ModelConfig) -> Price:
    return Price.of(
        config.input_per_mtok, config.output_per_mtok, config.cached_input_per_mtok, config.reasoning_per_mtok
    )


class ModelIndex:
    def __init__(self, settings: Settings) -> None:
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
            model = Model(name=name, config=config, price=_price(config), deployments=deployments)
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
        # A model the config does not list: routed as asked, priced at zero until the catalog knows it.
        config = ModelConfig(provider=provider_name, upstream=upstream, capabilities=list(_ALL_CAPABILITIES))
        deployment = Deployment(provider_name, provider, adapter_for(provider.kind), upstream, 1.0)
        return Model(name=name, config=config, price=_price(config), deployments=(deployment,))


_ALL_CAPABILITIES: tuple[Capability, ...] = ("tools", "vision", "json_schema", "streaming", "reasoning")
