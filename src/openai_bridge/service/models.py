"""The model list."""

from __future__ import annotations

from ..upstream.base import Upstream
from ..wire.models import ModelList


class ModelsService:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def list(self) -> ModelList:
        return await self.upstream.models()
