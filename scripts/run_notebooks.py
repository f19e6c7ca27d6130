"""Execute the notebooks top to bottom, so they are committed with fresh outputs.

    python scripts/run_notebooks.py                 # every notebooks/*.ipynb, outputs saved in place
    python scripts/run_notebooks.py --check         # for CI: run copies in a temp folder, fail on errors
    python scripts/run_notebooks.py notebooks/02-train-and-evaluate.ipynb --timeout 300

Each notebook runs in a fresh ``python3`` kernel with the notebooks/ folder as its working
directory (as ``jupyter lab notebooks/`` does) and the checkout's ``src/`` first on
PYTHONPATH, so the notebooks use this checkout's library. ``--timeout`` bounds each
notebook's whole run. The exit code is 1 when a cell raises or a notebook runs out of time,
and the message names the notebook and the cell; 2 for bad arguments. Needs the
``notebooks`` extra (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_TIMEOUT = 600.0
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookFailed(Exception):
    """A cell raised or the notebook ran out of time; the message names both."""


def _describe(notebook: Path, cell_index: int | None, cell) -> str:
    if cell_index is None or cell is None:
        return f"{notebook.name} (before the first cell)"
    first_line = next((line for line in cell.source.splitlines() if line.strip()), "").strip()
    return f"{notebook.name}, cell {cell_index} ({first_line[:70]!r})"


def run_notebook(source: Path, target: Path, timeout: float, kernel: str) -> float:
    """Execute ``source`` in a fresh kernel and write the result to ``target``; seconds taken."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(source, as_version=4)
    started = time.monotonic()
    deadline = started + timeout
    current: dict = {"index": None, "cell": None}

    def on_cell_start(cell, cell_index) -> None:
        current["index"], current["cell"] = cell_index, cell

    client = NotebookClient(
        nb,
        kernel_name=kernel,
        # the whole notebook shares one deadline: each cell gets the time that is left
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        startup_timeout=120,
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        on_cell_start=on_cell_start,
    )
    try:
        client.execute(cwd=str(NOTEBOOKS))
    except CellTimeoutError:
        where = _describe(source, current["index"], current["cell"])
        raise NotebookFailed(f"{where}: the notebook ran longer than its {timeout:g} s timeout") from None
    except CellExecutionError as error:
        where = _describe(source, current["index"], current["cell"])
        summary = f"{error.ename}: {error.evalue}" if getattr(error, "ename", None) else str(error)
        raise NotebookFailed(ANSI_ESCAPE.sub("", f"{where} raised {summary}\n{error}")) from None
    except DeadKernelError as error:
        where = _describe(source, current["index"], current["cell"])
        raise NotebookFailed(f"{where}: the kernel died ({error})") from None
    nbformat.write(nb, target)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute the notebooks top to bottom.")
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: every notebooks/*.ipynb)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="run copies in a temporary folder and leave the notebooks as they are; "
        "fail only if a cell raises or a notebook times out",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds allowed for each notebook's whole run (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    args = parser.parse_args(argv)

    paths = [path.resolve() for path in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(path) for path in paths if not path.is_file()]
    if missing or not paths:
        parser.error(f"no notebook at {', '.join(missing)}" if missing else f"no notebooks in {NOTEBOOKS}")
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        print('run_notebooks: needs nbclient and nbformat: pip install ".[notebooks]"', file=sys.stderr)
        return 2

    # the kernel inherits the environment: use this checkout's library
    src = str(ROOT / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    output_dir = Path(tempfile.mkdtemp(prefix="notebooks-check-")) if args.check else None
    failures: list[str] = []
    total_started = time.monotonic()
    try:
        for path in paths:
            target = output_dir / path.name if output_dir else path
            print(f"running {path.name} ...", flush=True)
            try:
                seconds = run_notebook(path, target, args.timeout, args.kernel)
            except NotebookFailed as error:
                failures.append(str(error))
                print(f"FAILED {error}", file=sys.stderr, flush=True)
                continue
            saved = "" if args.check else f", outputs saved to {path}"
            print(f"  ok in {seconds:.1f} s{saved}", flush=True)
    finally:
        if output_dir is not None:
            shutil.rmtree(output_dir, ignore_errors=True)
    elapsed = time.monotonic() - total_started
    print(f"{len(paths) - len(failures)} passed, {len(failures)} failed ({elapsed:.1f} s)")
    if failures:
        for failure in failures:
            print(f"error: {failure.splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
