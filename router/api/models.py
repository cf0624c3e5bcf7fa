"""`GET /v1/models` and `GET /v1/models/{id}` in OpenAI's format."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from router.errors import ModelNotFound
from router.gateway import Gateway

CREATED = 1_764_201_600  # 2025-11-27: a fixed date, so the list is stable across restarts


def _model_object(model_id: str, owner: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": owner}


def model_objects(gateway: Gateway) -> list[dict[str, Any]]:
    items = [_model_object("auto", "tiergate")]
    for name, model in gateway.index.models.items():
        owner = model.deployments[0].provider_name
        items.append(_model_object(name, owner))
        items.extend(_model_object(alias, owner) for alias in model.config.aliases)
    return items


@get("/v1/models", sync_to_thread=False)
def list_models(request: Request[Any, Any, Any]) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    return {"object": "list", "data": model_objects(gateway)}


@get("/v1/models/{model_id:path}", sync_to_thread=False)
def retrieve_model(request: Request[Any, Any, Any], model_id: str) -> dict[str, Any]:
    gateway: Gateway = request.app.state.gateway
    model_id = model_id.lstrip("/")
    if model_id == "auto":
        return _model_object("auto", "tiergate")
    model = gateway.index.resolve(model_id)
    if model is None:
        raise ModelNotFound(f"The model `{model_id}` does not exist", param="model")
    return _model_object(model_id, model.deployments[0].provider_name)
