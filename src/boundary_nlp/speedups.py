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


# the one switch: library code reads this at call time, so setting it to None (as tests and
# the benchmark's pure-Python row do) turns every C path off at once
SPEEDUPS = load_speedups()
