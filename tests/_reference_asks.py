"""A frozen copy of ``boundary_nlp.asks.normalized_asks`` as it was before split_asks' fast
path for messages of one piece (test oracle).

Copied verbatim from ``src/boundary_nlp/asks.py`` at commit cd0825d, on the frozen
``split_asks`` and ``normalize`` of ``_reference_text``; ``only_closing`` is the library's
(the closing module is not what this oracle freezes). Do not edit or "improve" this module:
``tests/test_text_speed_parity.py`` checks that the library still returns exactly what it returns.
"""

from __future__ import annotations

from boundary_nlp.closing import only_closing

try:
    from ._reference_text import normalize, split_asks
except ImportError:
    from _reference_text import normalize, split_asks


def normalized_asks(message: str, closing: bool) -> tuple[list[str], list[str] | None]:
    parts = split_asks(message)
    if len(parts) < 2:
        return parts, None
    normalized = [normalize(part) for part in parts]
    if closing:
        kept = [index for index, text in enumerate(normalized) if not only_closing(text)]
        if len(kept) < len(parts):
            parts = [parts[index] for index in kept]
            normalized = [normalized[index] for index in kept]
    return parts, normalized
