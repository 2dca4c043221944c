"""The model a request names: the same rule for every kind of request, in every direction."""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidRequest


def requested_model(request: Mapping[str, object], default_model: str | None) -> str:
    """The request's `model`, or `default_model`; raises `InvalidRequest` when there is none or it is not a
    string."""
    model = request.get("model") or default_model
    if not model:
        raise InvalidRequest("You must provide a model parameter (or set DEFAULT_MODEL).", param="model")
    if not isinstance(model, str):
        raise InvalidRequest("'model' must be a string.", param="model")
    return model
