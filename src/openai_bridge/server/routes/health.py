"""`GET /healthz`."""

from fastapi import APIRouter
from fastapi.responses import Response

from ..errors import json_response

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})
