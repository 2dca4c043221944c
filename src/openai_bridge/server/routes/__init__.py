"""The routes, one module per resource, each declared once; `mount` serves them at `/` and at `/v1`."""

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

from . import chat, conversations, health, models, responses

# In the order requests are matched: the busiest route first.
RESOURCES = (responses.router, chat.router, conversations.router, models.router, health.router)


def mount(app: FastAPI, prefixes: tuple[str, ...] = ("/v1", "")) -> None:
    """Every route of every resource under each prefix, as flat routes of the app (FastAPI's nested
    `include_router` matches through one more router per request, which costs measurably here)."""
    for prefix in prefixes:
        for router in RESOURCES:
            for route in router.routes:
                if isinstance(route, APIWebSocketRoute):
                    app.add_api_websocket_route(prefix + route.path, route.endpoint, name=route.name)
                    continue
                assert isinstance(route, APIRoute)
                app.add_api_route(prefix + route.path, route.endpoint, methods=sorted(route.methods or ()),
                                  name=route.name, include_in_schema=False)
