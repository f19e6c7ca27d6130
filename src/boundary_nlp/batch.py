"""Batch prediction over files: streamed, one output row per input row, in order."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .data import read_records
from .labels import chinese_name

CHUNK = 256


def _stdin_records() -> Iterator[tuple[int, dict]]:
    """Lines of stdin: a JSON object per line, or else the line itself is the text."""
    for number, line in enumerate(sys.stdin, start=1):
        line = line.rstrip("\n")
        record = None
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                record = None
        yield number, record if isinstance(record, dict) else {"text": line}


class _Writer:
    def __init__(self, output: str | None, labels: list[str]) -> None:
        self.kind = "jsonl" if output in (None, "-") or not str(output).lower().endswith(".csv") else "csv"
        self.fh: IO[str] = (
            sys.stdout if output in (None, "-") else open(output, "w", encoding="utf-8", newline="")
        )
        self.labels = labels
        self.csv_writer = None

    def write(self, record: dict) -> None:
        if self.kind == "jsonl":
            self.fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        if self.csv_writer is None:
            self.columns = list(record)
            self.csv_writer = csv.DictWriter(self.fh, fieldnames=self.columns, extrasaction="ignore")
            self.csv_writer.writeheader()
        self.csv_writer.writerow({k: record.get(k, "") for k in self.columns})

    def close(self) -> None:
        if self.fh is not sys.stdout:
            self.fh.close()
        else:
            self.fh.flush()


def _prevalidate(path: Path, encoding: str) -> int:
    """Read the whole file once before writing anything, so a bad byte stops the run at once;
    returns the number of rows (for the progress bar)."""
    return sum(1 for _ in read_records(path, encoding))


def _progress(done: int, total: int | None) -> str:
    if not total:
        return f"\rscored {done} rows"
    width = 30
    filled = width * done // total
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows"


def output_columns(labels: list[str], input_columns: list[str]) -> dict[str, str]:
    """Names of the added columns; all get a ``pred_`` prefix if any would overwrite an
    input column (scoring a labelled file must not destroy its gold ``label``)."""
    names = ["label", "label_zh", "confidence", *(f"p_{label}" for label in labels), "error"]
    prefix = "pred_" if set(names) & set(input_columns) else ""
    return {name: prefix + name for name in names}


def predict_file(
    model,
    input_path: str,
    output: str | None = None,
    text_column: str = "text",
    encoding: str = "utf-8",
    progress: bool = False,
) -> str:
    """Classify every row of ``input_path``; write its columns plus label, label_zh,
    confidence, ``p_<label>`` and ``error`` (prefixed ``pred_`` when the input already has
    such a column). A row without usable text gets an error and empty predictions; the run
    goes on. Returns a one-line summary."""
    total = None
    if input_path == "-":
        records: Iterator[tuple[int, dict]] = _stdin_records()
    else:
        path = Path(input_path)
        total = _prevalidate(path, encoding)
        records = read_records(path, encoding)
    labels = [str(c) for c in model.classes_]
    writer = _Writer(output, labels)
    columns: dict[str, str] | None = None
    done = failed = 0
    try:
        chunk: list[dict] = []
        for _, record in records:
            if columns is None:
                columns = output_columns(labels, list(record))
            chunk.append(record)
            if len(chunk) >= CHUNK:
                failed += _score_chunk(model, chunk, text_column, labels, columns, writer)
                done += len(chunk)
                chunk = []
                if progress:
                    print(_progress(done, total), end="", file=sys.stderr, flush=True)
        if chunk:
            failed += _score_chunk(model, chunk, text_column, labels, columns, writer)
            done += len(chunk)
        if progress:
            print(_progress(done, total), end="", file=sys.stderr, flush=True)
    finally:
        writer.close()
        if progress:
            print("", file=sys.stderr)
    return f"scored {done} rows ({failed} with errors)"


def _score_chunk(
    model, chunk: list[dict], text_column: str, labels: list[str], columns: dict[str, str], writer: _Writer
) -> int:
    usable = []
    errors: dict[int, str] = {}
    for position, record in enumerate(chunk):
        text = record.get(text_column)
        if not isinstance(text, str):
            errors[position] = (
                f"no text in column {text_column!r}" if text is None else f"{text_column!r} is not text"
            )
        elif not text.strip():
            errors[position] = "empty text"
        else:
            usable.append(position)
    proba = model.predict_proba([chunk[p][text_column] for p in usable]) if usable else []
    scored = dict(zip(usable, proba))
    for position, record in enumerate(chunk):
        added = dict.fromkeys(columns.values(), "")
        if position in scored:
            row = scored[position]
            best = int(row.argmax())
            added[columns["label"]] = labels[best]
            added[columns["label_zh"]] = chinese_name(labels[best])
            added[columns["confidence"]] = round(float(row[best]), 6)
            for label, value in zip(labels, row):
                added[columns[f"p_{label}"]] = round(float(value), 6)
        else:
            added[columns["error"]] = errors[position]
        writer.write({**record, **added})
    return len(errors)
