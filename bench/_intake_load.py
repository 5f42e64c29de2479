"""The load generator of bench/intake.py, run as its own process: N keep-alive HTTP/1.1 connections on
raw asyncio streams (no client library in the way), each sending requests back to back for a given
time. Prints one JSON line: requests answered 2xx, events in them, other answers, latencies (ms).

    python -m bench._intake_load PORT TOKEN MODE(batch|single) CONNECTIONS SECONDS BATCH_SIZE
"""
from __future__ import annotations

import asyncio
import base64
import json
import sys
import time


def _body(mode: str, connection: int, number: int, size: int) -> tuple[bytes, int]:
    calls = []
    for i in range(size if mode == "batch" else 1):
        calls.append({"type": "track", "userId": f"c{connection}-{(number * size + i) % 500}", "event": "Product Viewed",
                      "messageId": f"b{connection}-{number}-{i}", "timestamp": "2026-03-01T10:00:00Z",
                      "properties": {"sku": f"SKU-{i % 40}", "price": 19.99, "name": "Blue mug"}})
    data = {"batch": calls} if mode == "batch" else calls[0]
    return json.dumps(data, separators=(",", ":")).encode(), len(calls)


async def _client(port: int, auth: bytes, mode: str, connection: int, until: float, size: int,
                  latencies: list[float], counts: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = b"/v1/batch" if mode == "batch" else b"/v1/track"
    number = 0
    try:
        while time.perf_counter() < until:
            body, events = _body(mode, connection, number, size)
            number += 1
            request = (b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic " + auth +
                       b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
                       b"\r\n\r\n" + body)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if head.startswith(b"HTTP/1.1 200"):
                counts["ok"] += 1
                counts["events"] += events
            else:
                counts["other"] += 1
    finally:
        writer.close()


async def _main(port: int, token: str, mode: str, connections: int, seconds: float, size: int) -> None:
    auth = base64.b64encode(f"{token}:".encode())
    latencies: list[float] = []
    counts = {"ok": 0, "events": 0, "other": 0}
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_client(port, auth, mode, c, until, size, latencies, counts) for c in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0.0

    print(json.dumps({**counts, "seconds": elapsed, "p50": pct(0.50), "p99": pct(0.99), "max": latencies[-1] if latencies
                      else 0.0}))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port, token, mode, connections, seconds, size = sys.argv[1:7]
    asyncio.run(_main(int(port), token, mode, int(connections), float(seconds), int(size)))
