"""The model list (`GET /v1/models`), as OpenAI shapes it."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class Model(TypedDict):
    id: str
    object: Literal["model"]
    created: NotRequired[int]
    owned_by: NotRequired[str]


class ModelList(TypedDict):
    object: Literal["list"]
    data: list[Model]
