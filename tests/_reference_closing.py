"""A frozen copy of ``closing_start`` and ``only_closing`` as they were before their search was
bounded (test oracle).

Copied from ``boundary_nlp.closing`` at commit a20fdfa. Do not edit or "improve" these two
functions: ``tests/test_closing_speed_parity.py`` checks that the library still returns
exactly what they return. They scan with the library's own patterns (``_CLOSING``,
``_STEMS``...; ``_TRAILING``, which the library no longer has, is frozen here): what is
checked is that the bounded search finds what the full scan of the same pattern finds, so a
pattern that outgrows the bound (a longer addressee before 辛苦, say) makes the check fail.
"""

from __future__ import annotations

import re

from boundary_nlp.closing import (
    _CLAUSE_MARKS,
    _CLOSING,
    _LETTER_OR_HAN,
    _PARTICLES,
    _STEMS,
    _WINDOW,
    MAX_CLOSINGS,
)

_TRAILING = re.compile(f"(?:[\\W_{_PARTICLES}])*\\Z")


def closing_start(normalized: str) -> int:
    start = len(normalized)
    if not _STEMS.search(normalized):
        return start
    for _ in range(MAX_CLOSINGS):
        tail = _TRAILING.search(normalized, max(0, start - _WINDOW), start)
        end = tail.start() if tail is not None else start
        match = _CLOSING.search(normalized, max(0, end - _WINDOW), start)
        if match is None:
            break
        start = match.start()
    if start == len(normalized):
        return start
    start = len(normalized[:start].rstrip(_CLAUSE_MARKS))
    if not _LETTER_OR_HAN.search(normalized, 0, start):
        return len(normalized)
    return start


def only_closing(normalized: str) -> bool:
    end = len(normalized)
    if not _STEMS.search(normalized):
        return False
    for _ in range(MAX_CLOSINGS):
        match = _CLOSING.search(normalized, max(0, end - _WINDOW), end)
        if match is None:
            break
        end = match.start()
    return end < len(normalized) and not _LETTER_OR_HAN.search(normalized, 0, end)
