"""Checking what callers pass as texts."""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_MAX_CHARS = 5000


def as_texts(texts: str | Iterable[str]) -> list[str]:
    """A list of texts from one string or an iterable of strings.

    Raises ``TypeError`` naming the first position that is not a ``str`` (``None``, bytes,
    numbers...): a silent ``str(x)`` would classify ``"None"`` or ``"b'...'"``.
    """
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise TypeError(
            f"expected a str or an iterable of str, got {type(texts).__name__}; "
            "decode bytes first (for example data.decode('utf-8'))"
        )
    out = list(texts)
    for position, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"text at position {position} is {type(text).__name__}, not str: {text!r:.60}")
    return out


def truncate(text: str, max_chars: int | None) -> tuple[str, bool]:
    """The first ``max_chars`` characters of ``text`` and whether anything was cut."""
    if max_chars is not None and len(text) > max_chars:
        return text[:max_chars], True
    return text, False
