"""The optional C module ``_speedups``, or ``None``.

``None`` when it was not built (no C compiler at install time) or when the environment sets
``BOUNDARY_NLP_PURE_PYTHON=1``; the Python code then does the same work, with the same
results, more slowly.
"""

from __future__ import annotations

import os
from types import ModuleType


def load_speedups() -> ModuleType | None:
    if os.environ.get("BOUNDARY_NLP_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from . import _speedups
    except ImportError:
        return None
    return _speedups


SPEEDUPS = load_speedups()
