"""An upstream that closes its connection after each streamed answer while its headers say keep-alive
(llama.cpp's server does): the next request must not fail on the dead pooled connection."""

import asyncio

from openai_bridge.upstream.http import HTTPUpstream

STREAM = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nConnection: keep-alive\r\n"
          b"Keep-Alive: timeout=5, max=100\r\ntransfer-encoding: chunked\r\n\r\n")
CHUNK = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":' \
        b'[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
COMPLETION = (b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
              b'"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}')


async def serve_closing_after_streams() -> tuple[asyncio.Server, list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            body = await reader.readexactly(length)
            seen.append(body)
            if b'"stream":true' in body:
                writer.write(STREAM + b"%x\r\n%s\r\n0\r\n\r\n" % (len(CHUNK), CHUNK))
                await writer.drain()
                writer.close()  # despite "keep-alive"
                return
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                         % (len(COMPLETION), COMPLETION))
            await writer.drain()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


def test_a_request_after_a_stream_does_not_fail_on_the_closed_connection():
    async def go() -> list[str]:
        server, seen = await serve_closing_after_streams()
        port = server.sockets[0].getsockname()[1]
        up = HTTPUpstream(f"http://127.0.0.1:{port}/v1")
        answers = []
        try:
            for _ in range(3):
                stream = await up.chat_stream({"model": "m", "messages": [], "stream": True})
                async for _batch in stream:
                    pass
                await stream.aclose()
                completion = await up.chat({"model": "m", "messages": []})
                answers.append(completion["choices"][0]["message"]["content"])
        finally:
            await up.aclose()
            server.close()
        assert len(seen) == 6  # each request reached the server once
        return answers

    assert asyncio.run(go()) == ["ok", "ok", "ok"]
