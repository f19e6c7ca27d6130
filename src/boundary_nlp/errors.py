"""The library's errors: one base class, so callers can catch everything boundary-nlp raises."""

from __future__ import annotations

from pathlib import Path


class BoundaryNLPError(Exception):
    """Base of every error boundary-nlp raises on purpose."""


class DataError(BoundaryNLPError, ValueError):
    """A data file cannot be read as asked; names the file, the row and what to do."""

    def __init__(self, path: str | Path, row: int | None, message: str) -> None:
        self.path = str(path)
        self.row = row
        self.message = message
        where = f"{self.path}, row {row}" if row is not None else self.path
        super().__init__(f"{where}: {message}")


class ModelLoadError(BoundaryNLPError):
    """A model file exists but cannot be used: truncated, corrupt, tampered with, or not a
    boundary-nlp model file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load model {self.path}: {reason}")


class LedgerError(BoundaryNLPError, ValueError):
    """The favor ledger cannot be used as asked (bad path, foreign database, bad input)."""


class ModelVersionWarning(UserWarning):
    """The model was saved by another version of boundary-nlp than the one installed."""


class PickleSecurityWarning(UserWarning):
    """A pickle-based (legacy joblib) model file was loaded: unpickling can run code."""
