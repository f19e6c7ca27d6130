"""Batch prediction over files: streamed, one output row per input row, in order."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ._files import atomic_write, escape_formula, refuse_same_file
from .data import DataError, RowFault, lookup_encoding, read_records

# rows scored per call: large enough that the predictor scores a chunk in threads
CHUNK = 4096
_SURROGATE = re.compile("[\ud800-\udfff]")


def _stdin_records(encoding: str) -> Iterator[tuple[int, dict | RowFault]]:
    """Lines of stdin in ``encoding``: a JSON object per line, or else the line itself is the text.

    A line starting with ``{`` that is not a JSON object is taken as plain text, as before.
    Bytes that are not valid in ``encoding`` stop the run (:class:`DataError`).
    """
    name = "utf-8-sig" if lookup_encoding(encoding) == "utf-8" else encoding
    buffer = getattr(sys.stdin, "buffer", None)
    stream = io.TextIOWrapper(buffer, encoding=name, newline=None) if buffer is not None else sys.stdin
    number = 0
    try:
        for number, line in enumerate(stream, start=1):
            line = line.rstrip("\n")
            record = None
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    record = None
            yield number, record if isinstance(record, dict) else {"text": line}
    except UnicodeDecodeError as error:
        raise DataError(
            "<stdin>", number + 1, f"cannot decode as {encoding} ({error.reason}); pass the right --encoding"
        ) from None
    finally:
        if buffer is not None:
            stream.detach()


def _valid_unicode(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _replace_surrogates(value: Any) -> Any:
    """``value`` with lone surrogates (invalid Unicode, e.g. from ``"\\ud800"`` in JSON) as U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


class _Writer:
    """JSON lines or CSV, to stdout or (through :func:`atomic_write`) to a file."""

    def __init__(
        self,
        output: str | None,
        columns: list[str] | None,
        encoding: str | None,
        csv_escape: bool,
        keep_partial: bool,
    ) -> None:
        to_stdout = output in (None, "-")
        self.kind = "csv" if not to_stdout and str(output).lower().endswith(".csv") else "jsonl"
        self.columns = columns
        self.csv_escape = csv_escape
        self.csv_writer = None
        self._context = None
        if to_stdout:
            self.fh: IO[str] = sys.stdout
        else:
            default = "utf-8-sig" if self.kind == "csv" else "utf-8"
            encoding = encoding or default
            lookup_encoding(encoding)
            # lone surrogates are replaced before writing; "replace" only turns characters the
            # chosen output encoding cannot hold (an emoji in gb18030 cannot happen, in gbk can) into "?"
            self._context = atomic_write(
                output, encoding=encoding, errors="replace", newline="", keep_partial=keep_partial
            )
            self.fh = self._context.__enter__()

    def write(self, record: dict) -> None:
        if self.kind == "jsonl":
            self.fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        if self.csv_writer is None:
            self.columns = list(self.columns or record)
            self.csv_writer = csv.DictWriter(self.fh, fieldnames=self.columns, extrasaction="ignore")
            self.csv_writer.writeheader()
        cells = {k: record.get(k, "") for k in self.columns}
        if self.csv_escape:
            cells = {k: escape_formula(v) for k, v in cells.items()}
        self.csv_writer.writerow(cells)

    def close(self, error: BaseException | None = None) -> None:
        if self._context is None:
            self.fh.flush()
            return
        if error is None:
            self._context.__exit__(None, None, None)
        else:
            self._context.__exit__(type(error), error, error.__traceback__)


def _prevalidate(path: Path, encoding: str, text_column: str) -> tuple[int, list[str]]:
    """Read the whole file once before writing anything, so a whole-file fault (bad bytes, no
    text column) stops the run at once; returns the number of rows and the input columns in
    order of first appearance."""
    total = 0
    columns: dict[str, None] = {}
    for _, record in read_records(path, encoding, row_faults=True):
        total += 1
        if isinstance(record, dict):
            columns.update(dict.fromkeys(map(str, record)))
    if total and text_column not in columns:
        raise DataError(
            path, None, f"no {text_column!r} column (columns: {list(columns)}); name it with --text-column"
        )
    return total, list(columns)


def _progress(done: int, total: int | None) -> str:
    if not total:
        return f"\rscored {done} rows"
    width = 30
    filled = width * done // total
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows"


def output_columns(labels: list[str], input_columns: list[str]) -> dict[str, str]:
    """Names of the added columns; all get a ``pred_`` prefix if any would overwrite an
    input column (scoring a labelled file must not destroy its gold ``label``)."""
    names = [
        "label",
        "label_zh",
        "confidence",
        "uncertain",
        "reason",
        *(f"p_{label}" for label in labels),
        "error",
    ]
    prefix = "pred_" if set(names) & set(input_columns) else ""
    return {name: prefix + name for name in names}


def predict_file(
    model,
    input_path: str,
    output: str | None = None,
    text_column: str = "text",
    encoding: str = "utf-8",
    progress: bool = False,
    output_encoding: str | None = None,
    csv_escape: bool = True,
    keep_partial: bool = False,
    threshold: float | None = None,
) -> str:
    """Classify every row of ``input_path``; write its columns plus label, label_zh,
    confidence, uncertain, ``p_<label>`` and ``error`` (prefixed ``pred_`` when the input
    already has such a column). Returns a one-line summary.

    A row that cannot be scored (no or empty text, invalid Unicode, bad JSON, a ragged CSV
    row, a field over the csv module's limit) gets ``error`` = ``"row N: ..."`` and empty
    predictions; the run goes on. A whole-file fault (bytes not valid in ``encoding``, no
    ``text_column`` at all, an unreadable file) raises before anything is written.

    The output file is written through :func:`~boundary_nlp._files.atomic_write`: an
    interrupted run leaves any previous file as it was (``keep_partial`` keeps what was
    written as ``OUTPUT.partial``). CSV is UTF-8 with a byte-order mark by default (Excel),
    JSON lines UTF-8; ``output_encoding`` overrides. ``csv_escape`` prefixes CSV cells
    that start with ``= + - @``, tab or CR with ``'`` so spreadsheets do not run them.
    ``threshold``: confidence below which a row is ``uncertain`` (default: the model's).
    """
    refuse_same_file([output], [input_path])
    lookup_encoding(encoding)
    total = None
    columns_in: list[str] | None = None
    if input_path == "-":
        records: Iterator[tuple[int, dict | RowFault]] = _stdin_records(encoding)
    else:
        path = Path(input_path)
        total, columns_in = _prevalidate(path, encoding, text_column)
        records = read_records(path, encoding, row_faults=True)
    labels = [str(c) for c in model.classes_]
    if threshold is None:
        threshold = getattr(model, "uncertainty_threshold", None)
    columns: dict[str, str] | None = None
    if columns_in is not None:
        columns = output_columns(labels, columns_in)
    writer = _Writer(
        output,
        None if columns_in is None else columns_in + list(columns.values()),
        output_encoding,
        csv_escape,
        keep_partial,
    )
    done = failed = 0
    try:
        chunk: list[tuple[int, dict | RowFault]] = []
        for number, record in records:
            if columns is None:
                columns = output_columns(labels, list(record) if isinstance(record, dict) else [])
            chunk.append((number, record))
            if len(chunk) >= CHUNK:
                failed += _score_chunk(model, chunk, text_column, labels, columns, writer, threshold)
                done += len(chunk)
                chunk = []
                if progress:
                    print(_progress(done, total), end="", file=sys.stderr, flush=True)
        if chunk:
            failed += _score_chunk(model, chunk, text_column, labels, columns, writer, threshold)
            done += len(chunk)
        if progress:
            print(_progress(done, total), end="", file=sys.stderr, flush=True)
    except BaseException as error:
        writer.close(error)
        raise
    finally:
        if progress:
            print("", file=sys.stderr)
    writer.close()
    return f"scored {done} rows ({failed} with errors)"


def _row_error(record: dict | RowFault, text_column: str) -> str | None:
    if isinstance(record, RowFault):
        return record.message
    text = record.get(text_column)
    if not isinstance(text, str):
        return f"no text in column {text_column!r}" if text is None else f"{text_column!r} is not text"
    if not text.strip():
        return "empty text"
    if not _valid_unicode(text):
        return f"{text_column!r} is not valid Unicode (a lone surrogate such as \\ud800)"
    return None


def _score_chunk(
    model,
    chunk: list[tuple[int, dict | RowFault]],
    text_column: str,
    labels: list[str],
    columns: dict[str, str],
    writer: _Writer,
    threshold: float | None,
) -> int:
    usable = []
    errors: dict[int, str] = {}
    for position, (number, record) in enumerate(chunk):
        problem = _row_error(record, text_column)
        if problem is None:
            usable.append(position)
        else:
            errors[position] = f"row {number}: {problem}"
    # the same predictions as classify(): label, uncertain and its reason come from one place
    texts = [chunk[p][1][text_column] for p in usable]
    predictions = model.classify(texts, threshold=threshold, evidence_terms=0) if usable else []
    scored = dict(zip(usable, predictions))
    for position, (_, record) in enumerate(chunk):
        added = dict.fromkeys(columns.values(), "")
        if position in scored:
            prediction = scored[position]
            added[columns["label"]] = prediction.label
            added[columns["label_zh"]] = prediction.label_zh
            added[columns["confidence"]] = round(prediction.confidence, 6)
            added[columns["uncertain"]] = prediction.uncertain
            added[columns["reason"]] = prediction.reason or ""
            for label in labels:
                added[columns[f"p_{label}"]] = round(prediction.probabilities[label], 6)
        else:
            added[columns["error"]] = errors[position]
        base = record if isinstance(record, dict) else {}
        if not _valid_unicode(base):
            base = _replace_surrogates(base)
        writer.write({**base, **added})
    return len(errors)
