"""Load benchmark of ``boundary-nlp serve``: throughput, latency and errors, and the ledger under two workers.

    pip install -e ".[serve,serve-test]"
    python benchmarks/serve_load.py             # ~1 minute on 2 cores; writes its section of BENCHMARKS.md
    python benchmarks/serve_load.py --no-write  # print only

It starts real server processes on free loopback ports (``boundary-nlp serve``), sends
``--requests`` classify requests from ``--clients`` concurrent clients (aiohttp, one process,
asyncio) with messages from ``datasets/test.csv``, and reports requests per second, p50/p99
latency and errors, once per server worker count in ``--workers``. Then two workers take
``--records`` ledger records from the same clients at once, and the ledger file is counted:
nothing may be lost. Every loop is bounded by its count and by ``--deadline`` seconds; it
sends traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
START_MARK = "<!-- serve-load -->"
END_MARK = "<!-- /serve-load -->"
COMMAND = "python benchmarks/serve_load.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def messages() -> list[str]:
    with open(ROOT / "datasets" / "test.csv", encoding="utf-8-sig", newline="") as fh:
        return [row["text"] for row in csv.DictReader(fh)]


class Server:
    """``boundary-nlp serve`` in its own process group, stopped on exit."""

    def __init__(self, ledger: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = Path(sys.executable).with_name("boundary-nlp")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "boundary_nlp.cli"]
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [*command, "serve", "--port", str(self.port), "--ledger", str(ledger), "--workers", str(workers)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"server exited:\n{self.log.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(self.url + "/v1/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise SystemExit("server did not answer /v1/health within 60 s")

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


async def load(url: str, path: str, bodies: list[dict], clients: int, deadline: float) -> dict:
    """Send every body once from ``clients`` concurrent clients; latencies and errors."""
    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(range(len(bodies)))

    async def client(http: aiohttp.ClientSession) -> None:
        for index in queue:
            if time.monotonic() > deadline:
                errors.append("deadline passed")
                return
            start = time.perf_counter()
            try:
                async with http.post(url + path, json=bodies[index]) as response:
                    answer = await response.read()
                    if response.status != 200:
                        errors.append(f"HTTP {response.status}: {answer[:200]!r}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                errors.append(f"{type(error).__name__}: {error}")
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def classify_run(texts: list[str], requests: int, clients: int, workers: int, deadline: float) -> dict:
    bodies = [{"text": texts[i % len(texts)]} for i in range(requests)]
    with tempfile.TemporaryDirectory() as folder, Server(Path(folder) / "ledger.sqlite3", workers) as server:
        # warm up: the first messages load the segmenter's dictionary parts
        asyncio.run(load(server.url, "/v1/classify", bodies[:200], clients, deadline))
        result = asyncio.run(load(server.url, "/v1/classify", bodies, clients, deadline))
    return {"workers": workers, "clients": clients, **result}


def ledger_run(texts: list[str], records: int, clients: int, deadline: float) -> dict:
    bodies = [
        {"client": f"客户{i % clients}", "text": f"{texts[i % len(texts)]}（#{i}）"} for i in range(records)
    ]
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "ledger.sqlite3"
        with Server(ledger, 2) as server:
            result = asyncio.run(load(server.url, "/v1/ledger/record", bodies, clients, deadline))
        from boundary_nlp.ledger import FavorLedger

        with FavorLedger(ledger) as book:
            entries = [entry for c in range(clients) for entry in book.history(f"客户{c}")]
    stored = len({entry.text for entry in entries})
    return {**result, "sent": records, "stored": len(entries), "distinct": stored, "lost": records - stored}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def versions() -> str:
    from importlib.metadata import version

    names = ("boundary-nlp", "fastapi", "uvicorn", "aiohttp")
    return ", ".join(f"{name} {version(name)}" for name in names)


def report(runs: list[dict], ledger: dict, args: argparse.Namespace) -> str:
    lines = [
        START_MARK,
        "## Serving: `boundary-nlp serve` under load",
        "",
        f'Written by `{COMMAND}` (after `pip install -e ".[serve,serve-test]"`) on '
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: real server processes on loopback, "
        f"{args.clients} concurrent clients (aiohttp, asyncio, one process on the same machine), "
        f"{args.requests:,} `POST /v1/classify` requests of one message each, cycling through "
        "`datasets/test.csv`, after a 200-request warm-up. Latency is measured by the client "
        "(send to full answer).",
        "",
        "| server workers | clients | requests | requests/s | p50 (ms) | p99 (ms) | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        lines.append(
            f"| {run['workers']} | {run['clients']} | {run['requests']:,} | {run['rps']:,.0f} "
            f"| {run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['errors']} |"
        )
    lines += [
        "",
        f"With {args.clients} requests always in flight, latency is mostly waiting in line (p50 is "
        f"about {args.clients} / requests per second); the 1-client row is one request at a time. "
        "The client runs on the same 2 cores as the server, so it takes part of the CPU.",
        "",
        f"Ledger under concurrency: 2 server workers, {args.clients} clients, {ledger['sent']:,} "
        f"`POST /v1/ledger/record` requests into one SQLite ledger: {ledger['errors']} errors, "
        f"{ledger['stored']:,} entries in the file ({ledger['distinct']:,} distinct), "
        f"**{ledger['lost']} lost**; {ledger['rps']:,.0f} records/s, p50 {ledger['p50_ms']:.1f} ms, "
        f"p99 {ledger['p99_ms']:.1f} ms.",
        "",
        f"Machine: {machine()}; load average {args.load_before} before the run; {versions()}.",
        END_MARK,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the section between the marks in ``path``, or append it; atomically."""
    text = path.read_text("utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(START_MARK) + ".*?" + re.escape(END_MARK), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="classify requests per run (default 5000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument(
        "--workers", default="1,2", help="server worker counts to measure, comma-separated (default 1,2)"
    )
    parser.add_argument(
        "--single", type=int, default=1000, help="requests from one client, one worker (0: skip)"
    )
    parser.add_argument("--records", type=int, default=2000, help="ledger records (default 2000)")
    parser.add_argument("--deadline", type=float, default=600, help="stop any run after this many seconds")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)

    args.load_before = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    texts = messages()
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        run = classify_run(texts, args.requests, args.clients, workers, time.monotonic() + args.deadline)
        print(json.dumps(run, ensure_ascii=False), flush=True)
        runs.append(run)
    if args.single:
        single = classify_run(texts, args.single, 1, 1, time.monotonic() + args.deadline)
        print(json.dumps(single, ensure_ascii=False), flush=True)
        runs.append(single)
    ledger = ledger_run(texts, args.records, args.clients, time.monotonic() + args.deadline)
    print(json.dumps(ledger, ensure_ascii=False), flush=True)
    section = report(runs, ledger, args)
    print()
    print(section)
    if args.json:
        args.json.write_text(json.dumps({"classify": runs, "ledger": ledger}, indent=2), "utf-8")
    if not args.no_write:
        write_section(args.output, section)
        print(f"\nwrote the section to {args.output}")
    failed = any(run["errors"] for run in runs) or ledger["errors"] or ledger["lost"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
