"""Reading labelled messages (CSV, JSONL) and checking a corpus against the labeling guide."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataError
from .labels import LABELS
from .text import normalize, to_simplified

REQUIRED_COLUMNS = ("id", "text", "label", "domain", "register")  # the project corpus (--corpus)
USER_COLUMNS = ("text", "label")  # what any user's data needs
SPLITS = ("train", "dev", "test")
NEAR_TWIN_JACCARD = 0.6
SHORT_CHARS = 12
LONG_CHARS = 60
_LATIN = re.compile(r"[A-Za-z]")


def lookup_encoding(encoding: str) -> str:
    """The codec name of ``encoding``; an unknown name raises ``ValueError`` saying so."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ValueError(f"unknown encoding {encoding!r}; use for example utf-8, gb18030 or utf-16") from None


@dataclass(frozen=True)
class RowFault:
    """A row that cannot be read (bad JSON, not an object, ragged, a field too long); with
    ``read_records(..., row_faults=True)`` it takes the row's place so a batch can go on."""

    message: str


def _decoded_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Physical lines of a file, decoded one by one so an encoding error names its line."""
    decoder_encoding = "utf-8-sig" if lookup_encoding(encoding) == "utf-8" else encoding
    try:
        fh = open(path, "rb")
    except OSError as error:
        raise DataError(path, None, f"cannot read the file ({error.strerror or error})") from None
    with fh:
        first = True
        for number, raw in enumerate(fh, start=1):
            if first and decoder_encoding == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            first = False
            try:
                yield number, raw.decode(encoding)
            except UnicodeDecodeError as error:
                hint = (
                    "the file is probably GBK/GB18030 (as Excel in China saves CSV); "
                    "pass encoding='gb18030' (CLI: --encoding gb18030) or save it as UTF-8"
                    if codecs.lookup(encoding).name == "utf-8"
                    else f"it is not valid {encoding}; check the encoding"
                )
                raise DataError(
                    path, number, f"cannot decode line as {encoding} ({error.reason}); {hint}"
                ) from None


def read_records(
    path: str | Path, encoding: str = "utf-8", row_faults: bool = False
) -> Iterator[tuple[int, dict | RowFault]]:
    """Rows of a ``.csv`` (header row) or ``.jsonl`` file as ``(row number, dict)``, streamed.

    CSV row numbers count data rows from 1 (the header is row 0); JSONL row numbers are line
    numbers. Raises :class:`DataError` for undecodable bytes, a bad header or an unreadable
    file. A bad row (bad JSON, not an object, ragged, a field over the csv module's limit)
    raises :class:`DataError` too, or with ``row_faults`` is yielded as a :class:`RowFault`.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(path, None, "is a folder, not a data file")
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    lookup_encoding(encoding)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = _jsonl_records(path, encoding)
    elif suffix in (".csv", ".tsv"):
        records = _csv_records(path, encoding, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(path, None, "unknown file type; use .csv, .tsv or .jsonl")
    for number, record in records:
        if isinstance(record, RowFault) and not row_faults:
            raise DataError(path, number, record.message)
        yield number, record


def _json_record(line: str) -> dict | RowFault:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return RowFault(f"not valid JSON ({error.msg}, column {error.colno})")
    except (ValueError, RecursionError) as error:  # nesting too deep, integer too long
        return RowFault(f"not usable JSON ({type(error).__name__}: {error})")
    if not isinstance(record, dict):
        return RowFault(f"expected a JSON object, got {type(record).__name__}")
    return record


def _jsonl_records(path: Path, encoding: str) -> Iterator[tuple[int, dict | RowFault]]:
    for number, line in _decoded_lines(path, encoding):
        if line.strip():
            yield number, _json_record(line)


def _csv_records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, dict | RowFault]]:
    lines = (line for _, line in _decoded_lines(path, encoding))
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(path, None, "the file is empty; expected a header row") from None
    except DataError as error:
        raise DataError(path, 0, f"header: {error.message}") from None
    except csv.Error as error:
        raise DataError(path, 0, f"cannot parse the header ({error})") from None
    header = [name.strip() for name in header]
    if len(set(header)) != len(header):
        raise DataError(path, 0, f"duplicate column names in header {header}")
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except DataError as error:  # an undecodable line: name the data row, and the line
            raise DataError(path, number + 1, f"(file line {error.row}) {error.message}") from None
        except csv.Error as error:
            number += 1
            yield number, RowFault(f"cannot parse CSV ({error})")
            continue
        number += 1
        if not row:
            continue
        if len(row) != len(header):
            yield (
                number,
                RowFault(
                    f"has {len(row)} fields, the header has {len(header)}; "
                    f"quote texts that contain '{delimiter}'"
                ),
            )
            continue
        yield number, dict(zip(header, row))


def load_dataset(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    encoding: str = "utf-8",
) -> tuple[list[str], list[str]]:
    """Texts and labels of a CSV (UTF-8, with or without BOM) or JSONL file.

    Every row must have a non-empty text and label; a row that has not raises
    :class:`DataError` naming it, so no row is dropped silently.
    """
    texts: list[str] = []
    labels: list[str] = []
    for number, record in read_records(path, encoding):
        for column in (text_column, label_column):
            if column not in record:
                raise DataError(path, number, f"has no {column!r} column (columns: {sorted(record)})")
        text, label = record[text_column], record[label_column]
        if not isinstance(text, str) or not text.strip():
            raise DataError(path, number, f"empty or non-text {text_column!r}: {text!r}")
        if not isinstance(label, str) or not label.strip():
            raise DataError(path, number, f"empty or non-text {label_column!r}: {label!r}")
        texts.append(text)
        labels.append(label.strip())
    if not texts:
        raise DataError(path, None, "has no data rows")
    return texts, labels


# -- the data check ---------------------------------------------------------------------


@dataclass
class Problem:
    path: str
    row: int | None
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}, row {self.row}: {self.message}"
            if self.row is not None
            else f"{self.path}: {self.message}"
        )


@dataclass
class CheckReport:
    """What :func:`check` found: problems (each fails the check) and statistics."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"checked {self.stats.get('rows', 0)} rows in {len(self.stats.get('files', []))} file(s)"]
        for split, counts in self.stats.get("labels", {}).items():
            lines.append(f"  {split}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        for key in (
            "short_share",
            "long_share",
            "traditional_share",
            "latin_share",
            "multi_ask_share",
            "cross_split_near_twin_share",
            "train_near_twin_share",
        ):
            if key in self.stats:
                lines.append(f"  {key}: {self.stats[key]:.2%}")
        if self.stats.get("marker_table"):
            lines.append("style markers (share of rows per label; WARN above the ratio):")
            lines.append(self.stats["marker_table"])
        for warning in self.warnings:
            lines.append(f"warning: {warning}")
        for problem in self.problems:
            lines.append(f"error: {problem}")
        lines.append("OK" if self.ok else f"FAILED: {len(self.problems)} problem(s)")
        return "\n".join(lines)


def _trigrams(text: str) -> frozenset[str]:
    compact = normalize(text).replace(" ", "")
    if len(compact) < 3:
        return frozenset([compact])
    return frozenset(compact[i : i + 3] for i in range(len(compact) - 2))


def near_twins(
    queries: list[frozenset[str]],
    pool: list[frozenset[str]],
    threshold: float = NEAR_TWIN_JACCARD,
    same: bool = False,
) -> dict[int, tuple[int, float]]:
    """For each query index with a pool member of trigram Jaccard >= threshold: (pool index, score).

    With ``same`` the queries are the pool and a row is not its own twin.
    """
    index: dict[str, list[int]] = defaultdict(list)
    for position, grams in enumerate(pool):
        for gram in grams:
            index[gram].append(position)
    found: dict[int, tuple[int, float]] = {}
    for q, grams in enumerate(queries):
        shared: Counter[int] = Counter()
        for gram in grams:
            shared.update(index.get(gram, ()))
        best = (-1, 0.0)
        for p, inter in shared.items():
            if same and p == q:
                continue
            score = inter / (len(grams) + len(pool[p]) - inter)
            if score > best[1]:
                best = (p, score)
        if best[1] >= threshold:
            found[q] = best
    return found


def _files_to_check(path: Path) -> list[tuple[str, Path]]:
    if path.is_dir():
        files = [(split, path / f"{split}.csv") for split in SPLITS if (path / f"{split}.csv").is_file()]
        if not files:
            raise FileNotFoundError(f"no train/dev/test .csv files in {path}")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"no data file or folder at {path}")
    return [(path.stem, path)]


def check(
    path: str | Path,
    labels: Iterable[str] | None = None,
    max_train_near_twin_share: float = 0.05,
    max_cross_split_near_twin_share: float = 0.01,
    encoding: str = "utf-8",
    corpus: bool = False,
    strict_markers: bool = False,
    max_marker_ratio: float | None = None,
) -> CheckReport:
    """Check a folder (``train.csv``, ``dev.csv``, ``test.csv``) or one data file.

    By default it checks what any user's data needs: ``text`` and ``label`` columns, any label
    set (or only ``labels`` when given), ``id``/``domain``/``register`` optional. Problems:
    missing columns, empty texts or labels, duplicate ids, exact duplicate texts (within and
    across files), dev/test rows with a train near-twin (character-trigram Jaccard >= 0.6)
    above ``max_cross_split_near_twin_share``, and train rows with a near-twin in train above
    ``max_train_near_twin_share``. Every offending row is named.

    ``corpus`` adds the project corpus's rules: ``id``, ``domain`` and ``register`` columns,
    exactly the three labels, and the style-marker table (:mod:`boundary_nlp.markers`), whose
    unbalanced markers are warnings, or problems with ``strict_markers``.
    """
    from .markers import MAX_MARKER_RATIO

    report = CheckReport()
    if labels is None and corpus:
        labels = LABELS
    allowed = None if labels is None else set(labels)
    required = REQUIRED_COLUMNS if corpus else USER_COLUMNS
    rows: dict[str, list[tuple[int, dict]]] = {}
    files = _files_to_check(Path(path))
    for split, file in files:
        try:
            rows[split] = list(read_records(file, encoding))
        except DataError as error:
            report.problems.append(Problem(error.path, error.row, error.message))
            rows[split] = []
            continue
        if rows[split]:
            missing = [c for c in required if c not in rows[split][0][1]]
            if missing:
                report.problems.append(
                    Problem(str(file), 0, f"missing columns {missing}; need {list(required)}")
                )
        else:
            report.problems.append(Problem(str(file), None, "has no data rows"))

    seen_text: dict[str, tuple[str, int]] = {}
    seen_id: dict[str, tuple[str, int]] = {}
    label_counts: dict[str, Counter] = {}
    lengths: list[int] = []
    traditional = latin = multi = total = 0
    by_split_domain: dict[str, Counter] = {}
    by_split_register: dict[str, Counter] = {}
    file_of = dict(files)
    for split, records in rows.items():
        label_counts[split] = Counter()
        by_split_domain[split] = Counter()
        by_split_register[split] = Counter()
        for number, record in records:
            name = str(file_of[split])
            text = record.get("text")
            label = record.get("label")
            if not isinstance(text, str) or not text.strip():
                report.problems.append(Problem(name, number, "empty or whitespace-only text"))
                continue
            if not isinstance(label, str) or not label.strip():
                report.problems.append(Problem(name, number, f"empty or non-text label: {label!r}"))
                continue
            if allowed is not None and label not in allowed:
                report.problems.append(
                    Problem(name, number, f"label {label!r} is not one of {sorted(allowed)}")
                )
            key = text.strip()
            if key in seen_text:
                other = seen_text[key]
                report.problems.append(
                    Problem(name, number, f"exact duplicate of {other[0]}, row {other[1]}")
                )
            else:
                seen_text[key] = (name, number)
            row_id = record.get("id")
            if row_id is not None:
                if row_id in seen_id:
                    other = seen_id[row_id]
                    report.problems.append(
                        Problem(name, number, f"duplicate id {row_id!r} (also {other[0]}, row {other[1]})")
                    )
                else:
                    seen_id[row_id] = (name, number)
            total += 1
            label_counts[split][label] += 1
            by_split_domain[split][record.get("domain", "")] += 1
            by_split_register[split][record.get("register", "")] += 1
            lengths.append(len(text))
            traditional += to_simplified(text) != text
            latin += bool(_LATIN.search(text))
            multi += str(record.get("multi_ask", "0")).strip() in ("1", "true", "True")

    report.stats["files"] = [str(f) for _, f in files]
    report.stats["rows"] = total
    report.stats["labels"] = {split: dict(c) for split, c in label_counts.items()}
    report.stats["domains"] = {split: dict(c) for split, c in by_split_domain.items()}
    report.stats["registers"] = {split: dict(c) for split, c in by_split_register.items()}
    if total:
        report.stats["short_share"] = sum(n <= SHORT_CHARS for n in lengths) / total
        report.stats["long_share"] = sum(n >= LONG_CHARS for n in lengths) / total
        report.stats["traditional_share"] = traditional / total
        report.stats["latin_share"] = latin / total
        report.stats["multi_ask_share"] = multi / total

    if "train" in rows and rows["train"]:
        _check_near_twins(report, rows, file_of, max_train_near_twin_share, max_cross_split_near_twin_share)
    if corpus and total and Path(path).is_dir():  # a whole corpus, not one draft file
        seen_labels = {label for counts in label_counts.values() for label in counts}
        absent = sorted(set(LABELS) - seen_labels)
        if absent:
            report.problems.append(
                Problem(str(path), None, f"no rows labelled {absent}; the corpus needs all three")
            )
    if corpus and total:
        _check_markers(report, rows, str(path), max_marker_ratio or MAX_MARKER_RATIO, strict_markers)
    return report


def _check_markers(report: CheckReport, rows, where: str, max_ratio: float, strict: bool) -> None:
    from .markers import format_marker_table, marker_table

    texts: list[str] = []
    labels: list[str] = []
    for records in rows.values():
        for _, record in records:
            text, label = record.get("text"), record.get("label")
            if isinstance(text, str) and text.strip() and label in LABELS:
                texts.append(text)
                labels.append(label)
    table = marker_table(texts, labels, label_names=LABELS, max_ratio=max_ratio)
    report.stats["markers"] = [
        {"name": r.name, "overall": r.overall, "shares": r.shares, "ratio": r.ratio, "warn": r.warn}
        for r in table
    ]
    report.stats["marker_table"] = format_marker_table(table)
    for row in table:
        if row.warn:
            shares = ", ".join(f"{label} {share:.1%}" for label, share in row.shares.items())
            ratio = "inf" if row.ratio == float("inf") else f"{row.ratio:.2f}"
            (report.problems if strict else report.warnings).append(
                Problem(
                    where,
                    None,
                    f"style marker {row.name!r} ({row.description}) is unbalanced across labels: "
                    f"{shares}; max/min {ratio} > {max_ratio}",
                )
            )


def _check_near_twins(report, rows, file_of, max_train_share, max_cross_share) -> None:
    train = [(n, r) for n, r in rows["train"] if isinstance(r.get("text"), str)]
    train_grams = [_trigrams(r["text"]) for _, r in train]
    cross = 0
    cross_total = 0
    cross_found: list[Problem] = []
    for split in ("dev", "test"):
        records = [(n, r) for n, r in rows.get(split, []) if isinstance(r.get("text"), str)]
        cross_total += len(records)
        twins = near_twins([_trigrams(r["text"]) for _, r in records], train_grams)
        for q, (p, score) in sorted(twins.items()):
            cross += 1
            cross_found.append(
                Problem(
                    str(file_of[split]),
                    records[q][0],
                    f"near-twin of {file_of['train']}, row {train[p][0]} "
                    f"(trigram Jaccard {score:.2f}): a leak between splits",
                )
            )
    if cross_total:
        share = cross / cross_total
        report.stats["cross_split_near_twin_share"] = share
        (report.problems if share > max_cross_share else report.warnings).extend(cross_found)
    inner = near_twins(train_grams, train_grams, same=True)
    share = len(inner) / len(train) if train else 0.0
    report.stats["train_near_twin_share"] = share
    found = [
        Problem(
            str(file_of["train"]),
            train[q][0],
            f"near-twin of row {train[p][0]} (trigram Jaccard {score:.2f})",
        )
        for q, (p, score) in sorted(inner.items())
    ]
    if share > max_train_share:
        report.problems.extend(found)
        report.problems.append(
            Problem(
                str(file_of["train"]),
                None,
                f"{share:.1%} of train rows have a near-twin in train (limit {max_train_share:.0%})",
            )
        )
    else:
        report.warnings.extend(found)
