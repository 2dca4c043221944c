"""A minimal MCP server on stdio for the Codex tests, standard library only: newline-delimited JSON-RPC 2.0.

It offers two tools, `lookup_weather` and `convert_currency`; a call of `lookup_weather` answers
"forecast for <city>: sunny, 21 C". Codex starts it as `[mcp_servers.weather]` and names its tools
`mcp__weather` (a namespace); with a model of its catalog it defers them behind `tool_search`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOOLS = [
    {
        "name": "lookup_weather",
        "description": "Look up the weather forecast for a city.",
        "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    {
        "name": "convert_currency",
        "description": "Convert an amount between two currencies.",
        "inputSchema": {
            "type": "object",
            "properties": {"amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}},
            "required": ["amount", "from", "to"],
        },
    },
]


def answer(request: dict[str, Any]) -> dict[str, Any]:
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        return {"result": {"protocolVersion": params.get("protocolVersion", "2025-06-18"),
                           "capabilities": {"tools": {}}, "serverInfo": {"name": "weather", "version": "1.0"}}}
    if method == "tools/list":
        return {"result": {"tools": TOOLS}}
    if method == "tools/call" and params.get("name") == "lookup_weather":
        city = (params.get("arguments") or {}).get("city")
        return {"result": {"content": [{"type": "text", "text": f"forecast for {city}: sunny, 21 C"}],
                           "isError": False}}
    if method == "ping":
        return {"result": {}}
    return {"error": {"code": -32601, "message": f"not served here: {method}"}}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if "id" not in request:  # a notification (initialized, cancelled): no answer
            continue
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], **answer(request)}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
