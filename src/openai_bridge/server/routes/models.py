"""`GET /v1/models`."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...service.models import ModelsService
from ..errors import json_response
from ..middleware import bearer_token

router = APIRouter()


@router.get("/models")
async def list_models(request: Request) -> Response:
    models: ModelsService = request.app.state.models
    return json_response(await models.list(bearer_token(request.scope)))
