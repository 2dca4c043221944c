"""The HTTP face: FastAPI app, routes, SSE writer. Thin: the work happens in `service`."""
