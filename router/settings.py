"""One typed settings object, loaded from YAML plus environment overrides.

Secrets never live in the file: a provider names the environment variable that
holds its key (`api_key_env`). A bad config is refused at start with the file,
the key path and the reason (`ConfigError`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from router.keys.config import KeysConfig

Tier = Literal["simple", "reasoning", "hard"]
TIERS: tuple[Tier, ...] = ("simple", "reasoning", "hard")
# "embeddings" marks an embedding model: served on /v1/embeddings, never a chat candidate.
Capability = Literal["tools", "vision", "json_schema", "streaming", "reasoning", "embeddings"]
ProviderKind = Literal["openai", "anthropic", "gemini"]

ENV_PREFIX = "TIERGATE_"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the source, key and reason."""


class Timeouts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    connect_s: float = 5.0
    first_byte_s: float = 60.0
    total_s: float = 600.0


class ProviderConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    base_url: str
    kind: ProviderKind = "openai"
    api_key_env: str | None = None
    headers: dict[str, str] = {}
    timeouts: Timeouts = Timeouts()
    max_connections: int = 256

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class DeploymentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    provider: str
    upstream: str
    weight: float = 1.0


class ModelConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A model as clients name it. Prices are USD per 1M tokens."""

    provider: str | None = None
    upstream: str | None = None
    deployments: list[DeploymentConfig] = []
    aliases: list[str] = []
    tier: Tier = "simple"
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    reasoning_per_mtok: float | None = None
    cache_write_per_mtok: float | None = None  # prompt-cache writes (Anthropic bills them at 1.25x input)
    context_window: int = 128_000
    max_output: int = 16_384
    capabilities: list[Capability] = msgspec.field(default_factory=lambda: ["streaming"])

    def all_deployments(self) -> list[DeploymentConfig]:
        if self.deployments:
            return list(self.deployments)
        assert self.provider is not None and self.upstream is not None
        return [DeploymentConfig(provider=self.provider, upstream=self.upstream)]


class Thresholds(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Scores at or above these move a request up a tier (the policy owns them, not the classifier)."""

    hard: float = 0.5
    reasoning: float = 0.5


class RetryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one request walks its candidates (router/dispatch.py)."""

    # Rounds over the candidate deployments: round 1 tries each once (a failure moves to the next one at
    # once), later rounds come back to the ones that failed retryably, after an exponential, jittered pause.
    attempts_per_deployment: int = 2
    max_attempts: int = 4  # upstream attempts per request, all candidates together
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0
    # A deployment that sent Retry-After is not tried again inside that window; the request waits for it
    # only when nothing else is left and the window ends within this many seconds.
    max_retry_after_s: float = 2.0
    # A quota or spend-limit 429 (`insufficient_quota`): that deployment is left alone this long.
    quota_cooldown_s: float = 60.0
    # No new attempt starts after this many seconds of a request; running attempts are cut at it.
    deadline_s: float = 120.0
    # Retry budget (a token bucket): every request adds `budget_ratio` tokens, and `budget_min_per_s` more
    # arrive each second, up to `budget_burst`; every attempt after a request's first spends one. A total
    # outage therefore costs about (1 + ratio) attempts per request, never a retry storm.
    budget_ratio: float = 0.2
    budget_min_per_s: float = 10.0
    budget_burst: float = 20.0


class BreakerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per-deployment circuit breaker (router/breaker.py)."""

    failures: Annotated[int, msgspec.Meta(ge=1, le=5)] = 5  # consecutive failures that open it
    ejection_s: float = 5.0  # open this long, then one half-open probe


class RoutingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # tier -> ordered candidate models; a tier left out means "cheapest model whose tier is at least this one".
    tiers: dict[Tier, list[str]] = {}
    # How a configured list is ordered: as written ("listed"), or cheapest expected cost first ("cost").
    order: Literal["listed", "cost"] = "listed"
    thresholds: Thresholds = Thresholds()
    baseline: str | None = None
    expected_output_tokens: dict[Tier, int] = msgspec.field(
        default_factory=lambda: {"simple": 150, "reasoning": 600, "hard": 500}
    )
    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()


class LogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    store_text: bool = False
    batch_size: int = 200
    flush_interval_s: float = 0.25
    buffer_max: int = 50_000


class ServerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 4 * 1024 * 1024
    workers: int = 1


class ClassifierConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    enabled: bool = True
    path: str | None = None
    # ONNX, not torch: ready in ~2 s at ~210 MB RSS against ~38 s and ~520 MB with torch imported (README,
    # "Performance"). int8 over fp32: about 2.5x faster per decision (2.64 against 5.53 ms p50 for 20 tokens,
    # 7.85 against 14.42 ms for 256, four encoder layers on a quiet machine), with the same held-out APGR
    # (classifier/README.md, Latency).
    backend: str = "onnx-int8"


class ObservabilityConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Process logs, /metrics and traces (router/metrics.py, router/observability.py, router/tracing.py)."""

    log_format: Literal["json", "text", "none"] = "json"  # "none": leave logging as the host set it up
    log_level: str = "INFO"
    access_log: bool = False  # one JSON line per finished request (off: the request log table has it all)
    metrics: bool = True
    # off | global (the process's TracerProvider, e.g. set by opentelemetry-instrument) | console | otlp
    tracing: Literal["off", "global", "console", "otlp"] = "off"
    service_name: str = "tiergate"


class ResponsesConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Responses API conversations kept for `previous_response_id`."""

    retention_hours: float = 720.0  # 30 days, as OpenAI keeps stored responses
    purge_interval_s: float = 3600.0


class ShadowConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Shadow evaluation: a share of routed requests replayed off the request path on a reference model and
    judged; verdicts become outcomes (router/feedback/shadow.py)."""

    fraction: float = 0.0  # 0 = off
    reference: str | None = None  # default: routing.baseline
    judge: str | None = None  # None: only structured outputs are judged (exact JSON match)
    daily_budget_usd: float = 1.0
    queue_max: int = 1000


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    providers: dict[str, ProviderConfig] = {}
    models: dict[str, ModelConfig] = {}
    routing: RoutingConfig = RoutingConfig()
    database_url: str = "sqlite:///tiergate.db"
    log: LogConfig = LogConfig()
    server: ServerConfig = ServerConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    responses: ResponsesConfig = ResponsesConfig()
    keys: KeysConfig = KeysConfig()
    shadow: ShadowConfig = ShadowConfig()
    source: str = "<defaults>"


def _apply_env(raw: dict[str, Any], environ: dict[str, str]) -> None:
    """`TIERGATE_DATABASE_URL`, `TIERGATE_LOG__STORE_TEXT=true`: `__` walks into sections."""
    skip = {"CONFIG", "MASTER_KEY"}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(ENV_PREFIX + "TEST_"):
            continue
        key = name[len(ENV_PREFIX) :]
        if key in skip:
            continue
        path = [part.lower() for part in key.split("__")]
        if path[0] not in Settings.__struct_fields__:
            continue
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(value) if value else value


def _check_references(settings: Settings) -> None:
    where = settings.source
    names: set[str] = set()
    for name, model in settings.models.items():
        if not model.deployments and (model.provider is None or model.upstream is None):
            raise ConfigError(f"{where}: models.{name}: needs `provider` and `upstream`, or `deployments`")
        for dep in model.all_deployments():
            if dep.provider not in settings.providers:
                raise ConfigError(f"{where}: models.{name}: unknown provider {dep.provider!r}")
        for alias in [name, *model.aliases]:
            if alias in names or alias == "auto":
                raise ConfigError(
                    f"{where}: models.{name}: name or alias {alias!r} is used twice or reserved"
                )
            names.add(alias)
    for tier, candidates in settings.routing.tiers.items():
        for candidate in candidates:
            if candidate not in names:
                raise ConfigError(f"{where}: routing.tiers.{tier}: unknown model {candidate!r}")
    if settings.routing.baseline and settings.routing.baseline not in names:
        raise ConfigError(f"{where}: routing.baseline: unknown model {settings.routing.baseline!r}")


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load from `path` (or $TIERGATE_CONFIG); with neither, configure from provider keys in the environment."""
    env = dict(os.environ if environ is None else environ)
    path = path or env.get(ENV_PREFIX + "CONFIG")
    raw: dict[str, Any]
    if path:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: the top level must be a mapping")
        raw = loaded
    else:
        from router.defaults import config_from_environment

        source = "<environment>"
        raw = config_from_environment(env)
    _apply_env(raw, env)
    raw["source"] = source
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    _check_references(settings)
    return settings
