"""Open-loop load: requests start on a fixed schedule whether or not earlier ones finished,
and latency is measured from the scheduled start (no coordinated omission).

    python bench/openloop.py URL RATE SECONDS  ->  one JSON line of results

Only loopback targets are accepted. Every non-2xx answer and every failure is an error.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlsplit

import aiohttp


def body(n: int, run: str) -> bytes:
    name = f"Open{run}-{n}"
    return json.dumps(
        {
            "version": "4",
            "receiver": "bench",
            "status": "firing",
            "groupKey": f'{{}}:{{alertname="{name}"}}',
            "groupLabels": {"alertname": name},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://am",
            "truncatedAlerts": 0,
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": name, "instance": "i1", "severity": "warning"},
                    "annotations": {"summary": "bench"},
                    "startsAt": "2026-11-26T10:00:00.123Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "",
                    "fingerprint": f"{abs(hash((run, n))) % 2**64:016x}",
                }
            ],
        }
    ).encode()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run(url: str, rate: float, seconds: float) -> dict[str, float]:
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("open-loop load goes to loopback addresses only")
    run_id = uuid.uuid4().hex[:8]
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.1

        async def one(n: int) -> None:
            nonlocal errors
            scheduled = start + n / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                async with session.post(
                    url, data=body(n, run_id), headers={"Content-Type": "application/json"}
                ) as resp:
                    await resp.read()
                    if resp.status >= 300:
                        errors += 1
                        return
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                return
            latencies.append(time.perf_counter() - scheduled)

        await asyncio.gather(*(one(n) for n in range(total)))
        elapsed = time.perf_counter() - start
    return {
        "offered": rate,
        "achieved": len(latencies) / elapsed,
        "requests": total,
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
    }


if __name__ == "__main__":
    target, offered, duration = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(run(target, offered, duration))))
