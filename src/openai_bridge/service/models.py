"""The model list: every upstream's, merged."""

from __future__ import annotations

from ..routing import Router
from ..wire.models import ModelList


class ModelsService:
    def __init__(self, router: Router) -> None:
        self.router = router

    async def list(self, client_key: str | None = None) -> ModelList:
        return await self.router.model_list(client_key)
