"""Wheel build hook: compile the optional C module ``boundary_nlp._speedups``.

The library works without it (pure Python, same results); with it, one message is scored
several times faster. No C compiler, or ``BOUNDARY_NLP_PURE_PYTHON=1``, gives a pure-Python
wheel and a warning, never a failed install.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/boundary_nlp/_speedups.c")
# no fused multiply-add and no fast-math: the C sums must round exactly like numpy's
FLAGS = ["-O2", "-fPIC", "-pthread", "-ffp-contract=off", "-fno-fast-math"]


def compile_speedups(root: Path, output_dir: Path) -> Path:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    output = output_dir / f"_speedups{suffix}"
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    link = ["-bundle", "-undefined", "dynamic_lookup"] if sys.platform == "darwin" else ["-shared"]
    command = [
        *compiler,
        *FLAGS,
        f"-I{sysconfig.get_paths()['include']}",
        str(root / SOURCE),
        "-o",
        str(output),
        *link,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}\n{result.stderr.strip()}")
    return output


class SpeedupsBuildHook(BuildHookInterface):
    PLUGIN_NAME = "boundary-nlp-speedups"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or os.environ.get("BOUNDARY_NLP_PURE_PYTHON", "") not in ("", "0"):
            return
        if sys.platform == "win32":
            self.app.display_warning("boundary-nlp: no C speedups on Windows; installing pure Python")
            return
        root = Path(self.root)
        # an editable install imports from src/, so the module goes there (ignored by git)
        output_dir = root / "src/boundary_nlp" if version == "editable" else Path(tempfile.mkdtemp())
        try:
            built = compile_speedups(root, output_dir)
        except (OSError, RuntimeError) as error:
            self.app.display_warning(
                f"boundary-nlp: could not compile the optional C speedups ({error}); "
                "installing the pure-Python version (same results, slower per message)"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(built)] = f"boundary_nlp/{built.name}"
