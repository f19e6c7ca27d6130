"""The degree (度) ledger: how often each client has asked for favors, kept in SQLite.

The label of one message never changes with frequency (a favor stays ``courtesy``); the
article's "度" is about how often. The ledger records each classified request per client
and reports when courtesy favors within a window go over a limit.

The file uses WAL journaling and a busy timeout so several processes (the CLI, a chat bot)
can read and write the same ledger. Its schema is versioned with ``PRAGMA user_version``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
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
        if str(target) != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        self.file = str(target)
        self._conn: sqlite3.Connection | None = sqlite3.connect(self.file, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    def _setup(self) -> None:
        conn = self._connection
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise LedgerError(f"{self.file} is not a boundary-nlp ledger (SQLite: {error})") from error
        self._check_version(version)
        self.journal_mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if version < SCHEMA_VERSION:
            self._migrate()

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
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("the ledger is closed")
        return self._conn

    def close(self) -> None:
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
        conn = self._connection
        with conn:
            conn.execute(
                "INSERT INTO requests (client, at, text, label, confidence) VALUES (?, ?, ?, ?, ?)",
                (name, _stamp(moment), text, str(prediction.label), float(prediction.confidence)),
            )
        return replace(self.status(name, moment), latest=prediction)

    def status(self, client: str, when: datetime | None = None) -> DegreeStatus:
        """Favors in the window ``(when - window_days, when]`` (default: now, UTC).

        ``prohibited_total`` counts every prohibited request recorded up to ``when``.
        """
        name = _client(client)
        end = _utc(when)
        start = end - timedelta(days=self.window_days)
        row = self._connection.execute(
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
        rows = self._connection.execute(
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
