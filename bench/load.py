"""Load generator: Responses (or, in direct mode, chat) requests over C keep-alive connections.

    python bench/load.py --url http://127.0.0.1:8099 --stream -c 16 -d 5            # a bridge
    python bench/load.py --url http://127.0.0.1:9100 --direct --stream -c 16 -d 5   # the upstream itself
    python bench/load.py --url http://127.0.0.1:9100 --direct-responses -c 16 -d 5  # its own /v1/responses

Raw asyncio protocol over uvloop (if installed): a hand-written HTTP/1.1 response parser (Content-Length,
chunked, read-to-EOF), no client library in the way. Every body is read completely and checked:
- Responses stream: the last event must be `response.completed`; TTFT = arrival of the first
  `response.output_text.delta`; events = `data:` lines.
- Responses non-stream: 200 and `"status": "completed"`.
- `--direct-responses` (the upstream's own `/v1/responses`, the native pass-through's ceiling): the same
  Responses requests and checks as against a bridge, only the target differs.
- direct stream: ends with `data: [DONE]`; TTFT = first chunk with non-empty `content`; events = chunks.
- direct non-stream: 200 and a `choices` field.
Requests started during the warm-up are not counted. `client_cpu_pct` is this process's CPU use
during the measured window: near 100 % means the generator itself is the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import resource
import socket
import sys
import time
from urllib.parse import urlsplit

from http1 import framing  # bench/ is on sys.path: the scripts run as `python bench/...`

DATA_RE = re.compile(rb"^data: ?([^\r\n]*)", re.M)
RESP_DELTA_RE = re.compile(rb"response\.output_text\.delta")
CHAT_DELTA_RE = re.compile(rb'"content": ?"[^"]')
COMPLETED_RE = re.compile(rb'"status": ?"completed"')

perf = time.perf_counter


class ConnectionGone(Exception):
    pass


class HTTPConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.fut: asyncio.Future | None = None
        self.raw = bytearray()

    # --- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        fut = self.fut
        if fut is not None and not fut.done():
            if self.in_body and self.mode == "eof":
                self.keep = False
                self._complete()
            else:
                fut.set_exception(ConnectionGone(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        if self.fut is None:
            return
        self.raw += data
        if not self.in_body:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.raw[:end]).decode("latin-1").split("\r\n")
            del self.raw[:end + 4]
            parts = head[0].split(" ", 2)
            self.status = int(parts[1])
            if self.status == 100:  # interim answer, a real one follows
                return self.data_received(b"")
            f = framing(head[1:])
            length, chunked = f.length, f.chunked
            self.keep = not f.close and (f.keep_alive or not head[0].startswith("HTTP/1.0"))
            self.in_body = True
            if chunked:
                self.mode = "chunked"
            elif length is not None:
                self.mode = "length"
                self.left = length
            else:
                self.mode = "eof"
                self.keep = False
        grew = False
        if self.mode == "chunked":
            grew = self._chunked()
        elif self.mode == "length":
            take = self.raw[:self.left]
            del self.raw[:self.left]
            self.body += take
            self.left -= len(take)
            grew = bool(take)
            if self.left == 0:
                self.done = True
        else:
            self.body += self.raw
            grew = bool(self.raw)
            self.raw.clear()
        if grew and self.t_first is None and self.marker is not None:
            m = self.marker.search(self.body, max(0, self.scanned - 64))
            if m:
                self.t_first = perf()
            self.scanned = len(self.body)
        if self.done:
            self._complete()

    def _chunked(self) -> bool:
        raw = self.raw
        pos = 0
        grew = False
        n = len(raw)
        while not self.done:
            if self.left > 0:
                take = min(self.left, n - pos)
                if take == 0:
                    break
                self.body += raw[pos:pos + take]
                pos += take
                self.left -= take
                grew = True
                if self.left == 0:
                    self.left = -2
            elif self.left == -2:  # the CRLF after a chunk's data
                if n - pos < 2:
                    break
                pos += 2
                self.left = -1
            elif self.left == -3:  # trailers after the last chunk, up to a blank line
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                if eol == pos:
                    self.done = True
                pos = eol + 2
            else:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(bytes(raw[pos:eol]).split(b";", 1)[0], 16)
                pos = eol + 2
                self.left = size if size else -3
        del raw[:pos]
        return grew

    def _complete(self) -> None:
        fut = self.fut
        self.fut = None
        if fut is not None and not fut.done():
            fut.set_result((self.status, bytes(self.body), self.t_first, self.keep))

    # --- API
    def request(self, data: bytes, marker: re.Pattern[bytes] | None) -> asyncio.Future:
        if self.closed:
            raise ConnectionGone("closed")
        self.fut = asyncio.get_running_loop().create_future()
        self.raw.clear()
        self.body = bytearray()
        self.in_body = False
        self.done = False
        self.mode = ""
        self.left = -1
        self.status = 0
        self.keep = True
        self.t_first = None
        self.scanned = 0
        self.marker = marker
        self.transport.write(data)
        return self.fut

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def build_request(host: str, port: int, path: str, body: dict, key: str | None) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: */*\r\n{auth}Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


def check(body: bytes, status: int, direct: bool, stream: bool) -> tuple[bool, int]:
    """(ok, events) for one complete answer."""
    if status != 200:
        return False, 0
    if not stream:
        return (b'"choices"' in body) if direct else bool(COMPLETED_RE.search(body)), 1
    payloads = DATA_RE.findall(body)
    if not payloads:
        return False, 0
    if payloads[-1].strip() == b"[DONE]":
        if direct:
            return True, len(payloads) - 1
        payloads.pop()
    if direct or not payloads:
        return False, len(payloads)
    return b'"response.completed"' in payloads[-1], len(payloads)


async def run(url: str, *, direct: bool, stream: bool, conns: int, duration: float, requests: int | None,
              warmup: float, model: str, key: str | None, text: str, timeout: float,
              direct_responses: bool = False, store: bool | None = None) -> dict:
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    prefix = u.path.rstrip("/")
    if prefix.endswith("/v1"):
        prefix = prefix[:-3]
    if direct:
        path = prefix + "/v1/chat/completions"
        body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
        marker = CHAT_DELTA_RE if stream else None
    else:
        path = prefix + "/v1/responses"
        body = {"model": model, "input": text, "stream": stream}
        if store is not None:
            body["store"] = store
        marker = RESP_DELTA_RE if stream else None
    req = build_request(host, port, path, body, key)
    loop = asyncio.get_running_loop()

    latencies: list[float] = []
    ttfts: list[float] = []
    stats = {"requests": 0, "failures": 0, "events": 0, "issued": 0}
    first_failure: list[str] = []
    t_start = perf()
    measure_from = t_start + warmup
    stop_at = measure_from + duration if requests is None else float("inf")
    last_end = [measure_from]

    async def connect() -> HTTPConn:
        _, proto = await loop.create_connection(HTTPConn, host, port)
        return proto  # type: ignore[return-value]

    async def worker() -> None:
        conn: HTTPConn | None = None
        while True:
            t0 = perf()
            counted = t0 >= measure_from
            if t0 >= stop_at:
                break
            if counted and requests is not None:
                if stats["issued"] >= requests:
                    break
                stats["issued"] += 1
            try:
                if conn is None or conn.closed:
                    conn = await connect()
                status, data, t_first, keep = await asyncio.wait_for(conn.request(req, marker), timeout)
            except Exception as e:  # noqa: BLE001
                if conn is not None:
                    conn.close()
                conn = None
                if counted:
                    stats["failures"] += 1
                    if not first_failure:
                        first_failure.append(f"{type(e).__name__}: {e}")
                await asyncio.sleep(0.01)
                continue
            t1 = perf()
            ok, events = check(data, status, direct, stream)
            if counted:
                if ok:
                    stats["requests"] += 1
                    stats["events"] += events
                    latencies.append(t1 - t0)
                    if stream and t_first is not None:
                        ttfts.append(t_first - t0)
                else:
                    stats["failures"] += 1
                    if not first_failure:
                        first_failure.append(f"HTTP {status}: {data[:600].decode('utf-8', 'replace')}"
                                             f" ... {data[-300:].decode('utf-8', 'replace')}")
                if t1 > last_end[0]:
                    last_end[0] = t1
            if not keep:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    ru0: resource.struct_rusage | None = None

    async def mark_cpu() -> None:
        nonlocal ru0
        await asyncio.sleep(max(0.0, measure_from - perf()))
        ru0 = resource.getrusage(resource.RUSAGE_SELF)

    cpu_task = asyncio.ensure_future(mark_cpu())
    await asyncio.gather(*(worker() for _ in range(conns)))
    await cpu_task
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    window = max(last_end[0] - measure_from, 1e-9)
    cpu = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) if ru0 else 0.0
    latencies.sort()
    ttfts.sort()

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 3)

    n = stats["requests"]
    return {
        "url": url, "path": path, "direct": direct, "direct_responses": direct_responses, "stream": stream,
        "conns": conns,
        "window_s": round(window, 3), "requests": n, "failures": stats["failures"],
        "req_s": round(n / window, 1), "events": stats["events"],
        "events_s": round(stats["events"] / window, 1) if stream else None,
        "events_per_request": round(stats["events"] / n, 1) if n and stream else None,
        "lat_p50_ms": ms(percentile(latencies, 50)), "lat_p99_ms": ms(percentile(latencies, 99)),
        "lat_mean_ms": ms(sum(latencies) / len(latencies)) if latencies else None,
        "ttft_p50_ms": ms(percentile(ttfts, 50)), "ttft_p99_ms": ms(percentile(ttfts, 99)),
        "client_cpu_pct": round(100 * cpu / window, 1),
        "first_failure": first_failure[0] if first_failure else None,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Responses/chat load generator")
    p.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8099 (with or without /v1)")
    p.add_argument("--direct", action="store_true", help="send chat requests to /v1/chat/completions")
    p.add_argument("--direct-responses", action="store_true",
                   help="the upstream's own /v1/responses: Responses requests, checked as a bridge's answers "
                        "(the same as leaving both --direct options out; says what the target is)")
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--store", action=argparse.BooleanOptionalAction, default=None,
                   help="send 'store': true or false (default: leave it out, so the server's default applies)")
    p.add_argument("-c", "--conns", type=int, default=16, help="concurrent keep-alive connections")
    p.add_argument("-d", "--duration", type=float, default=5.0, help="measured seconds (after warm-up)")
    p.add_argument("-n", "--requests", type=int, default=None, help="measure this many requests instead")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of uncounted requests first")
    p.add_argument("--model", default="bench-model")
    p.add_argument("--key", default=None, help="sent as Authorization: Bearer KEY")
    p.add_argument("--input", default="Write a one-line greeting.")
    p.add_argument("--timeout", type=float, default=60.0, help="per request")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.direct and a.direct_responses:
        p.error("--direct (chat) and --direct-responses exclude each other")
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(a.url, direct=a.direct, stream=a.stream, conns=a.conns, duration=a.duration,
                             requests=a.requests, warmup=a.warmup, model=a.model, key=a.key, text=a.input,
                             timeout=a.timeout, direct_responses=a.direct_responses, store=a.store))
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>18}: {v}")
    if result["requests"] == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
