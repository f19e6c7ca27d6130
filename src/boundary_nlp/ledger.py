"""The degree (度) ledger: how often each client has asked for favors, kept in SQLite.

The label of one message never changes with frequency (a favor stays ``courtesy``); the
article's "度" is about how often. The ledger records each classified request per client
and reports when courtesy favors within a window go over a limit.

The file uses WAL journaling and a busy timeout so several processes (the CLI, a chat bot)
can read and write the same ledger; one ``FavorLedger`` can be shared by threads (a lock
serializes its use of the connection). Its schema is versioned with ``PRAGMA user_version``
and marked as a ledger with ``PRAGMA application_id``: a SQLite file of another application
is refused before anything in it is changed. A new ledger file is readable by its owner only.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .advice import Advice, advice_for, over_limit_advice
from .errors import LedgerError
from .labels import Label
from .prediction import Prediction

BUSY_TIMEOUT_MS = 5000

# Migration N (1-based) takes the schema from version N-1 to N. Append to add a version;
# never edit a released entry.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            client TEXT NOT NULL,
            at TEXT NOT NULL,
            text TEXT NOT NULL,
            label TEXT NOT NULL,
            confidence REAL NOT NULL
        )
        """,
        "CREATE INDEX requests_client_at ON requests (client, at)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
# "BnLd" in the SQLite header's application_id field: this file is a boundary-nlp ledger.
APPLICATION_ID = 0x426E4C64
_OWN_TABLES = frozenset({"requests"})
FILE_MODE = 0o600  # the ledger holds clients' messages: owner only


def default_ledger_path() -> Path:
    """``boundary-nlp/ledger.sqlite3`` in the user's data directory.

    Linux and other Unix: ``$XDG_DATA_HOME`` or ``~/.local/share``; macOS:
    ``~/Library/Application Support``; Windows: ``%APPDATA%``.
    """
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        # the XDG spec says relative paths are invalid and must be ignored
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "boundary-nlp" / "ledger.sqlite3"


def _utc(when: datetime | None) -> datetime:
    """``when`` as an aware UTC datetime; naive datetimes are taken as UTC, ``None`` is now."""
    if when is None:
        return datetime.now(timezone.utc)
    if not isinstance(when, datetime):
        raise TypeError(f"when must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _stamp(when: datetime) -> str:
    # fixed width (always microseconds, always +00:00), so text order is time order in SQL
    return when.isoformat(timespec="microseconds")


def _client(client: str) -> str:
    if not isinstance(client, str):
        raise TypeError(f"client must be a str, got {type(client).__name__}")
    stripped = client.strip()
    if not stripped:
        raise ValueError("client must not be empty")
    return stripped


def _days(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class DegreeStatus:
    """A client's favors within the window ending at ``as_of``, and what to do about them."""

    client: str
    window_days: float
    limit: int
    courtesy_count: int
    over_limit: bool
    prohibited_count: int
    prohibited_total: int
    advice: Advice | None
    as_of: datetime | None = None
    latest: Prediction | None = None  # the request just recorded, when returned by record()

    def to_dict(self) -> dict[str, Any]:
        return {
            "latest": None if self.latest is None else self.latest.to_dict(),
            "client": self.client,
            "window_days": self.window_days,
            "limit": self.limit,
            "courtesy_count": self.courtesy_count,
            "over_limit": self.over_limit,
            "prohibited_count": self.prohibited_count,
            "prohibited_total": self.prohibited_total,
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "advice": None
            if self.advice is None
            else {"action": self.advice.action, "reply": self.advice.reply},
        }

    def format(self) -> str:
        """Human-readable status in Chinese and English."""
        days = _days(self.window_days)
        verdict = (
            "已超出合理的度 / over the reasonable degree"
            if self.over_limit
            else "在合理的度之内 / within a reasonable degree"
        )
        lines = []
        if self.latest is not None:
            lines.append(
                f"本条 this request: {self.latest.label_zh} {self.latest.label} "
                f"({self.latest.confidence:.2f})"
            )
            if self.latest.label == "prohibited" and self.latest.advice is not None:
                lines.append(f"  本条建议 advice: {self.latest.advice.action}")
        lines += [
            f"{self.client}: {days}天内人情帮忙 {self.courtesy_count} 次（上限 {self.limit}）— {verdict}",
            f"  ({self.courtesy_count} courtesy favors in {days} days, limit {self.limit})",
        ]
        if self.prohibited_count or self.prohibited_total:
            lines.append(
                f"越界请求：{days}天内 {self.prohibited_count} 次，累计 {self.prohibited_total} 次"
                f" / prohibited requests: {self.prohibited_count} in the window, "
                f"{self.prohibited_total} in total"
            )
        if self.advice is not None:
            lines.append(f"建议 advice: {self.advice.action}")
            lines.append(f"参考回复 reply: {self.advice.reply}")
        return "\n".join(lines)


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded request."""

    client: str
    when: datetime
    text: str
    label: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "when": self.when.isoformat(),
            "text": self.text,
            "label": self.label,
            "confidence": self.confidence,
        }


class FavorLedger:
    """Per-client record of classified requests, with the degree (度) check.

    ``path`` is the SQLite file (default :func:`default_ledger_path`; parent folders are
    created). ``window_days`` and ``limit``: more than ``limit`` courtesy favors within
    ``window_days`` is over the degree. ``model`` classifies recorded texts (default: the
    shipped model, loaded on first ``record``). Use as a context manager or call ``close``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        window_days: float = 7,
        limit: int = 3,
        model: Any = None,
    ) -> None:
        if isinstance(window_days, bool) or not isinstance(window_days, (int, float)) or not window_days > 0:
            raise ValueError(f"window_days must be a positive number, got {window_days!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        self.path = path
        self.window_days = window_days
        self.limit = limit
        self.model = model
        if path is None:
            target: str | Path = default_ledger_path()
        else:
            target = os.fspath(path)
        self.file = str(target)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        if self.file != ":memory:":
            self._prepare_file(Path(target))
        try:
            self._conn = sqlite3.connect(self.file, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        except sqlite3.Error as error:
            raise LedgerError(f"cannot open ledger {self.file} ({error})") from None
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def _prepare_file(self, target: Path) -> None:
        """Check the path and create a missing file (and folders) for the owner only, so
        unusable paths give one clear :class:`LedgerError` instead of a SQLite message."""
        if target.is_dir():
            raise LedgerError(
                f"ledger path {target} is a folder; give a file, e.g. {target / 'ledger.sqlite3'}"
            )
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise LedgerError(
                f"cannot create the ledger folder {target.parent} ({error.strerror or error}); "
                "choose another --db path"
            ) from None
        if target.exists():
            return
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return
        except OSError as error:
            raise LedgerError(
                f"cannot create the ledger file {target} ({error.strerror or error}); "
                "the folder is not writable: choose another --db path"
            ) from None
        os.close(descriptor)

    def _setup(self) -> None:
        conn = self._connection
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            application = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise LedgerError(f"{self.file} is not a boundary-nlp ledger (SQLite: {error})") from error
        self._check_owner(application, tables)
        self._check_version(version)
        try:
            self.journal_mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if version < SCHEMA_VERSION or application != APPLICATION_ID:
                self._migrate()
        except sqlite3.Error as error:
            raise LedgerError(f"cannot write the ledger {self.file} ({error})") from None

    def _check_owner(self, application: int, tables: set[str]) -> None:
        # ours: marked with our id; or unmarked and empty (new), or unmarked with exactly our
        # tables (a ledger from before the id was written). Anything else belongs to someone
        # else, and nothing in it, not even its journal mode, may change.
        if application == APPLICATION_ID or (application == 0 and tables <= _OWN_TABLES):
            return
        shown = ", ".join(sorted(tables)) or "none"
        raise LedgerError(
            f"{self.file} is not a boundary-nlp ledger (a SQLite database of another application: "
            f"application_id {application}, tables {shown}); it was left unchanged: use another --db file"
        )

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.file} has schema version {version}, newer than this boundary-nlp "
                f"supports ({SCHEMA_VERSION}); upgrade boundary-nlp or use another --db file"
            )

    def _migrate(self) -> None:
        conn = self._connection
        # BEGIN IMMEDIATE takes the write lock first: two processes opening a new file at
        # once migrate one after the other, and the second sees the new version.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number - 1]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    def _query(self, sql: str, parameters: tuple) -> sqlite3.Cursor:
        try:
            return self._connection.execute(sql, parameters)
        except sqlite3.Error as error:
            raise LedgerError(f"cannot read the ledger {self.file} ({error})") from None

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("the ledger is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> FavorLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"FavorLedger({self.file!r}, window_days={self.window_days!r}, limit={self.limit!r}"
            f"{', closed' if self._conn is None else ''})"
        )

    def record(self, client: str, text: str, when: datetime | None = None) -> DegreeStatus:
        """Classify ``text``, store it for ``client`` at ``when`` (default now, UTC), return the status.

        The text is classified before the write transaction, so a failing model stores
        nothing and a slow model does not hold the file's write lock.
        """
        name = _client(client)
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError("text must not be empty")
        moment = _utc(when)
        model = self.model
        if model is None:
            raise LedgerError(
                "this ledger has no model to classify with: FavorLedger(path, model=load_model()), "
                "or use boundary_nlp.FavorLedger, which defaults to the shipped model"
            )
        prediction = model.classify(text)
        with self._lock, self._writing():
            conn = self._connection
            with conn:
                conn.execute(
                    "INSERT INTO requests (client, at, text, label, confidence) VALUES (?, ?, ?, ?, ?)",
                    (name, _stamp(moment), text, str(prediction.label), float(prediction.confidence)),
                )
            return replace(self.status(name, moment), latest=prediction)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite failures (disk full, read-only file, locked too long) as one clear LedgerError."""
        try:
            yield
        except sqlite3.Error as error:
            raise LedgerError(f"cannot write the ledger {self.file} ({error})") from None

    def prune(self, older_than_days: float, when: datetime | None = None) -> int:
        """Delete requests recorded more than ``older_than_days`` before ``when`` (default now,
        UTC); returns how many were deleted. Retention: the ledger keeps clients' messages."""
        if (
            isinstance(older_than_days, bool)
            or not isinstance(older_than_days, (int, float))
            or not older_than_days >= 0
        ):
            raise ValueError(f"older_than_days must be a number >= 0, got {older_than_days!r}")
        cutoff = _utc(when) - timedelta(days=older_than_days)
        with self._lock, self._writing():
            conn = self._connection
            with conn:
                deleted = conn.execute("DELETE FROM requests WHERE at < ?", (_stamp(cutoff),)).rowcount
        return int(deleted)

    def status(self, client: str, when: datetime | None = None) -> DegreeStatus:
        """Favors in the window ``(when - window_days, when]`` (default: now, UTC).

        ``prohibited_total`` counts every prohibited request recorded up to ``when``.
        """
        name = _client(client)
        end = _utc(when)
        start = end - timedelta(days=self.window_days)
        with self._lock:
            row = self._query(
                """
                SELECT
                    COALESCE(SUM(label = ? AND at > ?), 0),
                    COALESCE(SUM(label = ? AND at > ?), 0),
                    COALESCE(SUM(label = ?), 0)
                FROM requests WHERE client = ? AND at <= ?
                """,
                (
                    Label.COURTESY.value,
                    _stamp(start),
                    Label.PROHIBITED.value,
                    _stamp(start),
                    Label.PROHIBITED.value,
                    name,
                    _stamp(end),
                ),
            ).fetchone()
        courtesy_count, prohibited_count, prohibited_total = (int(value) for value in row)
        over_limit = courtesy_count > self.limit
        if over_limit:
            advice = over_limit_advice()
        elif prohibited_count > 0:
            advice = advice_for(Label.PROHIBITED.value)
        else:
            advice = advice_for(Label.COURTESY.value)
        return DegreeStatus(
            client=name,
            window_days=self.window_days,
            limit=self.limit,
            courtesy_count=courtesy_count,
            over_limit=over_limit,
            prohibited_count=prohibited_count,
            prohibited_total=prohibited_total,
            advice=advice,
            as_of=end,
        )

    def history(self, client: str) -> list[LedgerEntry]:
        """Every request recorded for ``client``, oldest first."""
        name = _client(client)
        with self._lock:
            rows = self._query(
                "SELECT client, at, text, label, confidence FROM requests WHERE client = ? ORDER BY at, id",
                (name,),
            ).fetchall()
        return [
            LedgerEntry(
                client=row[0],
                when=datetime.fromisoformat(row[1]),
                text=row[2],
                label=row[3],
                confidence=float(row[4]),
            )
            for row in rows
        ]
