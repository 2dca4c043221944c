"""A run: one response being produced. One producer (upstream -> translator -> the run's event log),
any number of sinks reading the log (the SSE writer, the JSON answer; later the store recorder,
background resume and the WebSocket)."""
