"""Bulk scoring benchmark (issue 17): throughput, threads, peak memory, latency, file scoring.

One run measures, each in a fresh subprocess (so ``ru_maxrss`` is that measurement's peak):

- the naive stack beside it: jieba (``jieba.lcut``) word 1-2 gram TF-IDF + char 1-3 gram
  TF-IDF + ``LogisticRegression()``, scikit-learn defaults, fitted on ``datasets/train.csv``
  (the recipe of ``benchmarks/run.py``), its ``predict`` on 20,000 messages;
- plain ``load_model().predict(texts)`` on 20,000 and 1,000,000 messages (default threads);
- threads scaling: ``predict(texts, n_threads=1)`` and ``n_threads=2`` on 20,000 messages;
- peak memory (``ru_maxrss``) of ``predict_proba`` on 1,000,000 messages, beside the
  process's resident size before the call (the input list itself);
- single-message p50 latency (``predict_proba(text)``), median over passes;
- file scoring (``boundary_nlp.batch.predict_file``) of a CSV of ``--rows`` rows (default
  10,000,000): time and peak memory.

Messages are corpus texts (train + dev + test) cycled with small variations. Usage::

    python benchmarks/bulk.py                         # full run (10M-row file: long)
    python benchmarks/bulk.py --rows 200000 --big 100000   # a quick run
    python benchmarks/bulk.py --output BENCHMARKS.md  # also put the section between markers
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bulk:start -->", "<!-- bulk:end -->"
VARIATIONS = ("", "，谢谢", "。", "！", " 麻烦了", "老师，", "好的，")


def corpus() -> list[str]:
    texts: list[str] = []
    for split in ("train", "dev", "test"):
        with open(ROOT / "datasets" / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
            texts.extend(row["text"] for row in csv.DictReader(fh))
    return texts


def messages(count: int) -> list[str]:
    """``count`` messages: corpus texts cycled, each round with another small variation."""
    base = corpus()
    out = []
    for i in range(count):
        round_, index = divmod(i, len(base))
        variation = VARIATIONS[round_ % len(VARIATIONS)]
        text = base[index]
        out.append(variation + text if variation.endswith("，") else text + variation)
    return out


def peak_mib() -> dict[str, float]:
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    lines = [line for line in status.splitlines() if line.startswith("VmHWM")]
    hwm = int(lines[0].split()[1]) / 1024 if lines else None
    return {"ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "vmhwm_mib": hwm}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- workers: each runs in its own process ----------------------------------------------


def jieba_lcut(text: str) -> list[str]:
    import jieba

    return jieba.lcut(text)


def worker_naive(args: dict) -> dict:
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    jieba.setLogLevel(60)
    jieba.initialize()
    with open(ROOT / "datasets" / "train.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(tokenizer=jieba_lcut, token_pattern=None, ngram_range=(1, 2))),
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3))),
        ]
    )
    pipeline = Pipeline([("features", features), ("classifier", LogisticRegression())])
    pipeline.fit([r["text"] for r in rows], [r["label"] for r in rows])
    texts = messages(args["count"])
    pipeline.predict(texts[:500])
    runs = []
    for _ in range(args["repeats"]):
        start = time.perf_counter()
        pipeline.predict(texts)
        runs.append(time.perf_counter() - start)
    return {"seconds": runs, "count": len(texts)}


def worker_predict(args: dict) -> dict:
    from boundary_nlp import load_model

    texts = messages(args["count"])
    rss_before = rss_mib()
    model = load_model()
    start = time.perf_counter()
    model.predict(texts, n_threads=args.get("n_threads"))
    first = time.perf_counter() - start
    runs = []
    for _ in range(args["repeats"]):
        start = time.perf_counter()
        model.predict(texts, n_threads=args.get("n_threads"))
        runs.append(time.perf_counter() - start)
    return {"first": first, "seconds": runs, "count": len(texts), "rss_before_mib": rss_before, **peak_mib()}


def worker_proba_memory(args: dict) -> dict:
    from boundary_nlp import load_model

    model = load_model()
    model.predict_proba(messages(2000))  # dictionary buckets, kernel: not part of the batch's cost
    texts = messages(args["count"])
    rss_before = rss_mib()
    start = time.perf_counter()
    proba = model.predict_proba(texts)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "count": len(proba), "rss_before_mib": rss_before, **peak_mib()}


def worker_latency(args: dict) -> dict:
    from boundary_nlp import load_model

    model = load_model()
    texts = messages(args["count"])
    for text in texts:
        model.predict_proba(text)
    p50s, p99s = [], []
    for _ in range(args["passes"]):
        times = []
        for text in texts:
            start = time.perf_counter()
            model.predict_proba(text)
            times.append(time.perf_counter() - start)
        times.sort()
        p50s.append(times[len(times) // 2] * 1000)
        p99s.append(times[int(len(times) * 0.99)] * 1000)
    return {"p50_ms": p50s, "p99_ms": p99s}


def worker_file(args: dict) -> dict:
    from boundary_nlp import load_model
    from boundary_nlp.batch import predict_file

    folder = Path(args["folder"])
    source = folder / "archive.csv"
    model = load_model()
    rss_before = rss_mib()
    start = time.perf_counter()
    summary = predict_file(model, str(source), str(folder / "scored.csv"))
    seconds = time.perf_counter() - start
    size = (folder / "scored.csv").stat().st_size
    return {
        "seconds": seconds,
        "summary": summary,
        "rows": args["rows"],
        "rss_before_mib": rss_before,
        "output_mib": size / 2**20,
        **peak_mib(),
    }


WORKERS = {
    "naive": worker_naive,
    "predict": worker_predict,
    "proba_memory": worker_proba_memory,
    "latency": worker_latency,
    "file": worker_file,
}


def run_worker(name: str, **args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--args", json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def write_archive(path: Path, rows: int) -> None:
    base = corpus()
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        for i in range(rows):
            round_, index = divmod(i, len(base))
            variation = VARIATIONS[round_ % len(VARIATIONS)]
            writer.writerow([i, base[index] + variation])


# -- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the scored CSV file")
    parser.add_argument("--big", type=int, default=1_000_000, help="messages of the large predict batch")
    parser.add_argument("--count", type=int, default=20_000, help="messages of the throughput batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", help="a markdown file: the section goes between the bulk markers")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(WORKERS[options.worker](json.loads(options.args))))
        return 0

    sys.path.insert(0, str(ROOT / "src"))
    from boundary_nlp.speedups import SPEEDUPS

    count, big = options.count, options.big
    results: dict[str, dict] = {}
    load_before = os.getloadavg()
    steps = [
        ("naive", dict(count=count, repeats=options.repeats)),
        ("predict", dict(count=count, repeats=options.repeats)),
        ("predict_1", dict(count=count, repeats=options.repeats, n_threads=1)),
        ("predict_2", dict(count=count, repeats=options.repeats, n_threads=2)),
        ("predict_big", dict(count=big, repeats=1)),
        ("proba_memory", dict(count=big)),
        ("latency", dict(count=2000, passes=5)),
    ]
    for key, args in steps:
        name = key if key in WORKERS else "predict"
        print(f"measuring {key} {args}", file=sys.stderr, flush=True)
        results[key] = run_worker(name, **args)
        print(f"  {json.dumps(results[key])[:400]}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bnlp-bulk-") as folder:
        print(f"writing a {options.rows:,}-row CSV", file=sys.stderr, flush=True)
        write_archive(Path(folder) / "archive.csv", options.rows)
        input_mib = (Path(folder) / "archive.csv").stat().st_size / 2**20
        print("measuring file scoring", file=sys.stderr, flush=True)
        results["file"] = run_worker("file", folder=folder, rows=options.rows)
        results["file"]["input_mib"] = input_mib
        print(f"  {json.dumps(results['file'])}", file=sys.stderr, flush=True)

    results["load"] = {"before": load_before, "after": os.getloadavg()}
    report = render(results, options, SPEEDUPS is not None)
    print(report)
    if options.output:
        write_section(Path(options.output), report)
    return 0


def rate(result: dict) -> float:
    return result["count"] / statistics.median(result["seconds"])


def render(results: dict, options: argparse.Namespace, speedups_built: bool) -> str:
    naive = rate(results["naive"])
    plain = rate(results["predict"])
    one, two = rate(results["predict_1"]), rate(results["predict_2"])
    big = rate(results["predict_big"])
    memory = results["proba_memory"]
    latency = results["latency"]
    file = results["file"]
    p50 = statistics.median(latency["p50_ms"])
    p99 = statistics.median(latency["p99_ms"])
    command = "python benchmarks/bulk.py" + (f" --rows {options.rows}" if options.rows != 10_000_000 else "")
    if options.big != 1_000_000:
        command += f" --big {options.big}"
    if options.count != 20_000:
        command += f" --count {options.count}"
    if options.repeats != 3:
        command += f" --repeats {options.repeats}"
    if options.output:
        command += f" --output {Path(options.output).name}"
    lines = [
        "## Bulk scoring (issue 17)",
        "",
        f"Measured by `{command}` on {time.strftime('%Y-%m-%d')}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, C module "
        f"{'built' if speedups_built else 'NOT built (pure Python)'}. Each row is a fresh process; "
        "messages are train+dev+test texts cycled with small variations. The naive stack is "
        "jieba (`jieba.lcut`) word 1-2 gram + char 1-3 gram TF-IDF + `LogisticRegression()` "
        "(scikit-learn defaults) fitted on `datasets/train.csv`, as in `benchmarks/run.py`.",
        "",
        "| measurement | value | vs naive | target |",
        "| --- | ---: | ---: | --- |",
        f"| naive stack `predict`, {results['naive']['count']:,} messages (messages/s) | {naive:,.0f} "
        "| 1.00x | |",
        f"| `load_model().predict(texts)`, {results['predict']['count']:,} messages, default threads "
        f"(messages/s, median of {len(results['predict']['seconds'])} after a first call) | {plain:,.0f} | "
        f"{plain / naive:.2f}x | >= 12x naive: **{'met' if plain >= 12 * naive else 'not met'}** |",
        f"| the same, first call of the process (messages/s) | "
        f"{results['predict']['count'] / results['predict']['first']:,.0f} | "
        f"{results['predict']['count'] / results['predict']['first'] / naive:.2f}x | |",
        f"| `predict(texts, n_threads=1)` (messages/s) | {one:,.0f} | {one / naive:.2f}x | |",
        f"| `predict(texts, n_threads=2)` (messages/s) | {two:,.0f} | {two / naive:.2f}x | scaling 1 -> 2 "
        f"threads: {two / one:.2f}x |",
        f"| `predict`, {results['predict_big']['count']:,} messages (messages/s) | {big:,.0f} | "
        f"{big / naive:.2f}x | |",
        f"| peak memory, `predict_proba` on {memory['count']:,} messages: process peak (MiB) | "
        f"{memory['ru_maxrss_mib']:,.0f} | | <= 400 MiB: "
        f"**{'met' if memory['ru_maxrss_mib'] <= 400 else 'not met'}** |",
        f"| of which the process before the call: model + the input list (MiB) | "
        f"{memory['rss_before_mib']:,.0f} | | |",
        f"| single-message `predict_proba(text)` p50 / p99 (ms, median of {len(latency['p50_ms'])} passes "
        f"over 2,000 messages) | {p50:.3f} / {p99:.3f} | | p50 <= 0.15 ms: "
        f"**{'met' if p50 <= 0.15 else 'not met'}** |",
        f"| file scoring `predict_file`, {file['rows']:,}-row CSV ({file['input_mib']:,.0f} MiB in, "
        f"{file['output_mib']:,.0f} MiB out): time (s) | {file['seconds']:,.1f} | | |",
        f"| file scoring: rows/s | {file['rows'] / file['seconds']:,.0f} | | |",
        f"| file scoring: process peak (MiB) | {file['ru_maxrss_mib']:,.0f} | | <= 400 MiB: "
        f"**{'met' if file['ru_maxrss_mib'] <= 400 else 'not met'}** |",
        "",
        "Raw runs (seconds): naive "
        + ", ".join(f"{s:.3f}" for s in results["naive"]["seconds"])
        + "; predict "
        + ", ".join(f"{s:.3f}" for s in results["predict"]["seconds"])
        + "; n_threads=1 "
        + ", ".join(f"{s:.3f}" for s in results["predict_1"]["seconds"])
        + "; n_threads=2 "
        + ", ".join(f"{s:.3f}" for s in results["predict_2"]["seconds"])
        + f"; predict_proba on {memory['count']:,}: {memory['seconds']:.1f}. "
        f"Latency p50 per pass (ms): {', '.join(f'{v:.3f}' for v in latency['p50_ms'])}. "
        f"File scoring: {file['summary']}.",
        "",
        "Load average (1/5/15 min) before the run: "
        + " / ".join(f"{v:.2f}" for v in results["load"]["before"])
        + ", after: "
        + " / ".join(f"{v:.2f}" for v in results["load"]["after"])
        + f" (of {os.cpu_count()} cores: other processes shared the machine when these are above 0).",
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, report: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = f"{START}\n{report}{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
