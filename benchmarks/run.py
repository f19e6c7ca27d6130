"""Benchmark boundary-nlp against a naive jieba + TF-IDF + LogisticRegression stack and fastText.

One run measures everything side by side on this machine and writes BENCHMARKS.md:

    python benchmarks/run.py                 # the full run (about 30 minutes on 2 cores)
    python benchmarks/run.py --quick         # a smoke run: fewer repeats, subsampled public sets
    python benchmarks/run.py --only public   # only train() vs the reference on the public sets

Every figure in the report is measured by the run that writes it; the only numbers read from
elsewhere are the reference accuracies of the public datasets, parsed from their README and
labelled as such. See benchmarks/README.md for what each figure means.

This file keeps its top-level imports to the standard library: the naive stack's pickled
pipeline refers to :func:`jieba_lcut` here, so its cold-start subprocess imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib
import inspect
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
SRC = ROOT / "src"
DATASETS = ROOT / "datasets"
DEFAULT_EXTERNAL = ROOT.parent / "shared" / "external"
PROBE = "开完会顺便帮我取个快递"
PROHIBITED = "prohibited"
REPRODUCE = "python benchmarks/run.py"
# issue 13 item 7: a fresh process that loads the shipped model and predicts one message
COLD_TARGET = 0.15  # at most this fraction of the naive stack's bare start
# issue 14 item 6: train()'s own selection against the reference, in accuracy points
SELECTION_TOLERANCE = 0.2
# modules the serving path must not import (checked in the cold-start subprocess)
TRAINING_MODULES = ("sklearn", "joblib", "scipy")

FULL = {
    "cold_runs": 7,
    "latency_messages": 2000,
    "latency_batches": 5,
    "bulk_messages": 20000,
    "bulk_runs": 3,
    "public_subsample": None,
}
QUICK = {
    "cold_runs": 3,
    "latency_messages": 300,
    "latency_batches": 3,
    "bulk_messages": 3000,
    "bulk_runs": 1,
    "public_subsample": 1500,
}


def jieba_lcut(text: str) -> list[str]:
    """``jieba.lcut`` (default mode, HMM on) under a module-level name, so a pipeline pickles.

    ``jieba.lcut`` itself is a bound method of jieba's Tokenizer, which holds an RLock and
    cannot be pickled; a user of the naive stack needs a wrapper like this one in a module.
    """
    import jieba

    return jieba.lcut(text)


def fasttext_line(text: str) -> str:
    """jieba tokens (default cut) joined by spaces, whitespace tokens dropped (one line)."""
    import jieba

    return " ".join(token for token in jieba.lcut(text) if token.strip())


# -- small helpers ------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def child_env(pycache: Path) -> dict[str, str]:
    """Environment of the measured subprocesses.

    The checkout's ``src`` comes first on the path. Bytecode is cached in ``pycache`` (a
    temporary folder, so nothing is written into src/) instead of being recompiled on every
    start when PYTHONDONTWRITEBYTECODE is set: that is how an installed package starts.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time of one subprocess, from spawn to exit, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv!r} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def python_child(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def harness_module() -> Any:
    """This file as the importable module ``run`` (not ``__main__``), for pickled references."""
    if __name__ != "__main__":
        return sys.modules[__name__]
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module("run")


def file_mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def accepts_n_jobs(function: Any) -> bool:
    try:
        return "n_jobs" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def dist_version(name: str) -> str:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


def fasttext_distribution() -> str:
    names = importlib_metadata.packages_distributions().get("fasttext", [])
    return ", ".join(f"{n} {dist_version(n)}" for n in sorted(set(names))) or "unknown"


# -- the machine --------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import numpy as np

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    blas = "unknown"
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        blas = (
            "; ".join(
                f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                f"{i.get('num_threads')} threads)"
                for i in infos
            )
            or "none found"
        )
    except ImportError:
        pass
    env_keys = (
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "PYTHONDONTWRITEBYTECODE",
    )
    import boundary_nlp

    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "memory": memory,
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "scikit-learn": dist_version("scikit-learn"),
        "scipy": dist_version("scipy"),
        "jieba": dist_version("jieba"),
        "joblib": dist_version("joblib"),
        "fastText binding": fasttext_distribution(),
        "boundary-nlp": boundary_nlp.__version__,
        "BLAS (threadpoolctl)": blas,
        "environment": ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in env_keys),
    }


def checkout_info(model_path: Path) -> dict[str, str]:
    """Commit (read from .git, no git process), a digest of src/ and of the shipped model."""
    commit = "unknown"
    try:
        git = ROOT / ".git"
        if git.is_file():  # a worktree: "gitdir: <path>", refs in its common dir
            git = Path(git.read_text().split(":", 1)[1].strip())
        common = git / (git / "commondir").read_text().strip() if (git / "commondir").is_file() else git
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            branch = ref.removeprefix("refs/heads/")
            for folder in (git, common):
                if (folder / ref).is_file():
                    commit = f"{(folder / ref).read_text().strip()} on {branch}"
                    break
            else:
                packed = common / "packed-refs"
                for line in packed.read_text().splitlines() if packed.is_file() else []:
                    if line.endswith(" " + ref):
                        commit = f"{line.split()[0]} on {branch}"
        else:
            commit = head
    except (OSError, IndexError):
        pass
    digest = hashlib.sha256()
    for path in sorted((SRC / "boundary_nlp").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(SRC)).encode() + b"\0" + path.read_bytes())
    model_digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    return {
        "commit": commit + "; the working tree may differ from it (see the src digest)",
        "src digest": f"sha256 {digest.hexdigest()[:16]} over src/boundary_nlp",
        "shipped model": f"{model_path.name}, sha256 {model_digest}",
    }


# -- data ---------------------------------------------------------------------------------


def read_reference_figures(readme: Path) -> dict[str, dict[str, str]]:
    """The reference accuracies from the public datasets' README table (not measured here)."""
    figures: dict[str, dict[str, str]] = {}
    if not readme.is_file():
        return figures
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.match(r"^[\d.]+$", cells[1]):
            continue
        key = "waimai" if cells[0].lower().startswith("waimai") else "thucnews"
        figures[key] = {
            "protocol": cells[0],
            "word_svc": cells[1],
            "char_svc": cells[2],
            "fasttext": cells[3],
        }
    return figures


def read_thucnews(folder: Path, split: str) -> tuple[list[str], list[str]]:
    """Titles and topic names of ``folder/{split}.txt`` (ids kept if there is no class.txt)."""
    names_file = folder / "class.txt"
    names = names_file.read_text(encoding="utf-8").split() if names_file.is_file() else []
    texts, labels = [], []
    for line in (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        title, label = line.rsplit("\t", 1)
        texts.append(title)
        labels.append(names[int(label)] if names else label)
    return texts, labels


# -- the three stacks ---------------------------------------------------------------------


def build_naive() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    tokenizer=harness_module().jieba_lcut, token_pattern=None, ngram_range=(1, 2)
                ),
            ),
            ("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 3))),
        ]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression())])


def train_fasttext(texts: list[str], labels: list[str], folder: Path) -> tuple[Any, float]:
    """fastText on jieba-segmented lines, wordNgrams=2, the binding's other defaults."""
    import fasttext

    start = time.perf_counter()
    train_file = folder / "fasttext-train.txt"
    with open(train_file, "w", encoding="utf-8") as fh:
        for text, label in zip(texts, labels, strict=True):
            fh.write(f"__label__{label} {fasttext_line(text)}\n")
    # 25 epochs, as fastText's own tutorial trains a small dataset; its default 5 leaves it
    # under-trained on a few thousand messages
    model = fasttext.train_supervised(str(train_file), wordNgrams=2, epoch=25, verbose=0)
    return model, time.perf_counter() - start


def fasttext_labels(model: Any, texts: list[str]) -> list[str]:
    predicted, _ = model.predict([fasttext_line(t) for t in texts], k=1)
    return [p[0].removeprefix("__label__") for p in predicted]


def quality(gold: list[str], predicted: list[str]) -> dict[str, float]:
    from boundary_nlp.evaluation import evaluate_predictions

    labels = sorted(set(gold) | set(predicted))
    evaluation = evaluate_predictions(list(gold), [str(p) for p in predicted], labels)
    return {
        "macro_f1": evaluation.macro_f1,
        "prohibited_recall": evaluation.recall.get(PROHIBITED, float("nan")),
        "accuracy": evaluation.accuracy,
    }


# -- measurements -------------------------------------------------------------------------


class OtherLoad:
    """How many cores other processes kept busy, on average, while a measurement ran.

    All busy CPU time of the machine (/proc/stat, steal included) minus this process's and
    its reaped children's: a measurement that needs every core is understated when this is
    well above zero.
    """

    def __enter__(self) -> OtherLoad:
        self.cores = float("nan")
        self._start = self._sample()
        return self

    def __exit__(self, *exc_info: object) -> None:
        busy0, own0, t0 = self._start
        busy1, own1, t1 = self._sample()
        if t1 > t0:
            self.cores = max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        busy = float("nan")
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            # user, nice, system + irq, softirq, steal (idle and iowait left out)
            busy = (sum(fields[:3]) + sum(fields[5:8])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        return busy, own, time.monotonic()


def latency(function: Any, messages: list[Any], batches: int) -> dict[str, Any]:
    """p50/p99 of single-message calls: median over ``batches`` passes, after a warm-up pass."""
    import numpy as np

    for message in messages:
        function(message)
    p50s, p99s = [], []
    with OtherLoad() as other:
        for _ in range(batches):
            gc.collect()
            times = np.empty(len(messages))
            for i, message in enumerate(messages):
                start = time.perf_counter_ns()
                function(message)
                times[i] = time.perf_counter_ns() - start
            p50s.append(float(np.percentile(times, 50)) / 1e6)
            p99s.append(float(np.percentile(times, 99)) / 1e6)
    return {
        "p50_ms": median(p50s),
        "p99_ms": median(p99s),
        "p50_runs": p50s,
        "p99_runs": p99s,
        "other_cores": other.cores,
    }


@contextlib.contextmanager
def pure_python() -> Any:
    """boundary-nlp without its C module, for comparison, as with BOUNDARY_NLP_PURE_PYTHON=1."""
    from boundary_nlp import speedups

    saved, speedups.SPEEDUPS = speedups.SPEEDUPS, None
    try:
        yield
    finally:
        speedups.SPEEDUPS = saved


def throughput(function: Any, texts: list[str], runs: int) -> tuple[dict[str, Any], Any]:
    rates, output = [], None
    with OtherLoad() as other:
        for _ in range(runs):
            gc.collect()
            start = time.perf_counter()
            output = function(texts)
            rates.append(len(texts) / (time.perf_counter() - start))
    return {"rate": median(rates), "runs": rates, "other_cores": other.cores}, output


COLD_BOUNDARY = (
    "from boundary_nlp import load_model\nmodel = load_model()\nmodel.predict_proba([{probe!r}])\n"
)
COLD_CODE = {
    "interpreter": "pass",
    "boundary": COLD_BOUNDARY,
    "naive_bare": (
        "import jieba\n"
        "jieba.initialize()\n"
        "import joblib\n"
        "import sklearn.pipeline, sklearn.feature_extraction.text, sklearn.linear_model\n"
    ),
    "naive": (
        "import sys\n"
        "sys.path.insert(0, {bench!r})\n"
        "import jieba\n"
        "jieba.initialize()\n"
        "import joblib\n"
        "pipeline = joblib.load({naive_path!r})\n"
        "pipeline.predict_proba([{probe!r}])\n"
    ),
    "fasttext": (
        "import jieba\n"
        "jieba.initialize()\n"
        "import fasttext\n"
        "model = fasttext.load_model({fasttext_path!r})\n"
        "model.predict(' '.join(t for t in jieba.lcut({probe!r}) if t.strip()), k=-1)\n"
    ),
}

MEMORY_CODE = {
    "boundary": (
        "import json, resource, sys\n"
        "from boundary_nlp import load_model\n"
        "texts = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "model = load_model()\n"
        "model.predict_proba(texts{extra})\n"
    ),
    "naive": (
        "import json, resource, sys\n"
        "sys.path.insert(0, {bench!r})\n"
        "import joblib\n"
        "texts = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "pipeline = joblib.load({naive_path!r})\n"
        "pipeline.predict_proba(texts)\n"
    ),
    "fasttext": (
        "import json, resource, sys\n"
        "import fasttext, jieba\n"
        "texts = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "model = fasttext.load_model({fasttext_path!r})\n"
        "model.predict([' '.join(t for t in jieba.lcut(x) if t.strip()) for x in texts], k=-1)\n"
    ),
}
MEMORY_TAIL = (
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')] or ['0']\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, hwm[0])\n"
)
# Linux keeps a process's ru_maxrss across fork + exec, so a child of this (large) harness
# process would report the harness's own peak. A small launcher in between resets it: the
# measured process inherits the launcher's few MiB, below its own peak.
LAUNCHER = "import subprocess, sys\nsys.exit(subprocess.run(sys.argv[1:]).returncode)\n"


def cli_command() -> tuple[list[str], str]:
    script = Path(sys.executable).with_name("boundary-nlp")
    if script.is_file():
        return [str(script), "predict", PROBE], f"{script.name} predict {PROBE}"
    return (
        [sys.executable, "-m", "boundary_nlp.cli", "predict", PROBE],
        f"python -m boundary_nlp.cli predict {PROBE}",
    )


def cold_starts(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> tuple[dict, float]:
    """Each command once untimed (fills the bytecode and jieba caches), then ``runs`` rounds,
    the commands interleaved within a round so that drift in machine speed hits all alike."""
    for name, argv in commands.items():
        log(f"  warm-up: {name}")
        run_child(argv, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    with OtherLoad() as other:
        for round_number in range(runs):
            for name, argv in commands.items():
                times[name].append(run_child(argv, env)[0])
            log(
                f"  round {round_number + 1}/{runs}: "
                + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items())
            )
    return times, other.cores


MODULES_TAIL = "import json, sys\nprint(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"


def serving_imports(env: dict[str, str]) -> dict[str, bool]:
    """Which of the training-side modules (and jieba, numpy) a fresh process has imported
    after the cold-start path (load the shipped model, predict one message): its sys.modules."""
    code = COLD_BOUNDARY.format(probe=PROBE) + MODULES_TAIL
    _, out = run_child(python_child(code), env)
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    return {name: name in loaded for name in (*TRAINING_MODULES, "jieba", "numpy")}


def peak_memory(code: str, texts_file: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """ru_maxrss of a fresh process, the largest ru_maxrss among its children, and its VmHWM
    (Linux's own peak-RSS figure, a cross-check), in MiB."""
    argv = python_child(LAUNCHER, *python_child(code + MEMORY_TAIL, str(texts_file)))
    _, out = run_child(argv, env)
    own, children, hwm = (int(v) for v in out.split()[-3:])
    return own / 1024, children / 1024, hwm / 1024


# -- public datasets ----------------------------------------------------------------------


def reference_char_svc() -> Any:
    """The public README's best reference: char 1-3 TF-IDF + LinearSVC, scikit-learn defaults."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LinearSVC(random_state=0))


def load_waimai(path: Path) -> tuple[Any, Any]:
    """Texts and labels of waimai_10k.csv as numpy object arrays (labels as read: "0" / "1")."""
    import numpy as np

    from boundary_nlp import load_dataset

    texts, labels = load_dataset(path, text_column="review", label_column="label")
    return np.asarray(texts, dtype=object), np.asarray(labels, dtype=object)


def waimai_folds(x: Any, y: Any) -> list[tuple[Any, Any]]:
    """The (train, test) index pairs of the waimai 5-fold CV protocol."""
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(x, y))


def write_training_csv(texts: list[str], labels: list[str], path: Path) -> Path:
    """``texts`` and ``labels`` as a CSV with ``text,label`` columns, the file ``train()`` reads."""
    import csv

    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels, strict=True))
    return path


def fit_selection(
    texts: list[str], labels: list[str], work: Path, selection: dict[str, Any]
) -> dict[str, Any]:
    """``boundary_nlp.training.train`` on these rows only: it chooses its own settings by
    repeated stratified group k-fold inside them (nothing else is written to its file)."""
    from boundary_nlp.training import train

    path = write_training_csv(texts, labels, work / "selection-train.csv")
    start = time.perf_counter()
    result = train(
        path, None, None, folds=selection["folds"], repeats=selection["repeats"], n_jobs=selection["n_jobs"]
    )
    seconds = time.perf_counter() - start
    path.unlink()
    return {
        "model": result.model,
        "params": plain_params(result.params),
        "seconds": seconds,
        "search": [
            {"params": plain_params(row["params"]), "mean": row["mean"], "se": row["se"]}
            for row in result.search
        ],
    }


def plain_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def classifier_params(chosen: dict[str, Any]) -> dict[str, Any]:
    """``BoundaryClassifier`` keyword arguments from a model's ``metadata["chosen_params"]``
    (lists back to tuples; a rule-2 threshold of ``None`` means rule 2 off)."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in chosen.items()}
    if "escalate_threshold" in params and params["escalate_threshold"] is None:
        del params["escalate_threshold"]
        params["escalate_label"] = None
    return params


def score_public_split(
    train_texts: list[str],
    train_labels: list[str],
    test_texts: list[str],
    test_labels: list[str],
    work: Path,
    selection: dict[str, Any],
) -> dict[str, Any]:
    """Accuracy on one (train, test) split of: ``BoundaryClassifier()``, ``train()``'s own
    selection, and the reference pipeline, each fitted on the training part only."""
    import numpy as np

    from boundary_nlp.model import BoundaryClassifier

    gold = np.asarray(test_labels, dtype=object)
    start = time.perf_counter()
    default = BoundaryClassifier().fit(train_texts, train_labels)
    default_accuracy = float(np.mean(default.predict(test_texts) == gold))
    default_seconds = time.perf_counter() - start
    del default
    chosen = fit_selection(train_texts, train_labels, work, selection)
    selection_accuracy = float(np.mean(chosen.pop("model").predict(test_texts) == gold))
    start = time.perf_counter()
    reference = reference_char_svc().fit(train_texts, train_labels)
    reference_accuracy = float(np.mean(reference.predict(test_texts) == gold))
    reference_seconds = time.perf_counter() - start
    return {
        "train": len(train_texts),
        "test": len(test_texts),
        "default": default_accuracy,
        "default_seconds": default_seconds,
        "selection": selection_accuracy,
        "selection_seconds": chosen["seconds"],
        "selection_params": chosen["params"],
        "selection_search": chosen["search"],
        "reference": reference_accuracy,
        "reference_seconds": reference_seconds,
    }


def log_split(name: str, split: dict[str, Any]) -> None:
    log(
        f"  {name}: train() {split['selection']:.4f} ({split['selection_seconds']:.0f} s, chose "
        f"{split['selection_params']}); BoundaryClassifier() {split['default']:.4f}; "
        f"char 1-3 + LinearSVC {split['reference']:.4f}"
    )


def public_benchmarks(
    external: Path,
    subsample: int | None,
    work: Path,
    selection: dict[str, Any],
    datasets: tuple[str, ...] = ("waimai", "thucnews"),
) -> dict[str, Any]:
    from sklearn.model_selection import train_test_split

    start = time.perf_counter()
    results: dict[str, Any] = {
        "references": read_reference_figures(external / "README.md"),
        "selection_settings": dict(selection),
    }
    waimai_path = external / "waimai_10k.csv"
    if "waimai" in datasets and waimai_path.is_file():
        x, y = load_waimai(waimai_path)
        rows = len(x)
        if subsample and subsample < len(x):
            x, _, y, _ = train_test_split(x, y, train_size=subsample, stratify=y, random_state=0)
        log(f"waimai_10k: {len(x)} of {rows} rows, stratified 5-fold CV")
        folds = []
        for number, (train_index, test_index) in enumerate(waimai_folds(x, y), start=1):
            folds.append(
                score_public_split(
                    list(x[train_index]),
                    list(y[train_index]),
                    list(x[test_index]),
                    list(y[test_index]),
                    work,
                    selection,
                )
            )
            log_split(f"fold {number}", folds[-1])
        results["waimai"] = {"rows": len(x), "rows_total": rows, "folds": folds}
    thuc = external / "thucnews_titles"
    if "thucnews" in datasets and (thuc / "dev.txt").is_file() and (thuc / "test.txt").is_file():
        train_texts, train_labels = read_thucnews(thuc, "dev")
        test_texts, test_labels = read_thucnews(thuc, "test")
        sizes = (len(train_texts), len(test_texts))
        if subsample and subsample < len(train_texts):
            train_texts, _, train_labels, _ = train_test_split(
                train_texts, train_labels, train_size=subsample, stratify=train_labels, random_state=0
            )
            test_texts, _, test_labels, _ = train_test_split(
                test_texts, test_labels, train_size=subsample, stratify=test_labels, random_state=0
            )
        log(f"THUCNews titles: train {len(train_texts)} (dev.txt), test {len(test_texts)} (test.txt)")
        split = score_public_split(train_texts, train_labels, test_texts, test_labels, work, selection)
        log_split("dev.txt -> test.txt", split)
        results["thucnews"] = {"full_sizes": sizes, "folds": [split]}
    results["seconds"] = time.perf_counter() - start
    log(f"public datasets: {results['seconds'] / 60:.1f} min")
    return results


def public_summary(public: dict[str, Any]) -> dict[str, Any]:
    """Mean accuracies per dataset, the margin of ``train()`` over the reference in points,
    and the verdict on the target: within 0.2 points on both sets and above on one."""
    import numpy as np

    summary: dict[str, Any] = {}
    for name in ("waimai", "thucnews"):
        if name not in public:
            continue
        folds = public[name]["folds"]
        keys = ("default", "selection", "reference")
        means = {key: float(np.mean([f[key] for f in folds])) for key in keys}
        margins = [100 * (f["selection"] - f["reference"]) for f in folds]
        summary[name] = {
            **means,
            "sd": {key: float(np.std([f[key] for f in folds])) for key in keys},
            "margin": 100 * (means["selection"] - means["reference"]),
            "won": sum(m > 0 for m in margins),
            "tied": sum(m == 0 for m in margins),
            "splits": len(folds),
            "seconds": sum(f["selection_seconds"] for f in folds),
        }
    if len(summary) == 2:
        margins = [summary[name]["margin"] for name in ("waimai", "thucnews")]
        within = all(m >= -SELECTION_TOLERANCE for m in margins)
        above = any(m > 0 for m in margins)
        summary["target_met"] = within and above
        summary["target_detail"] = (
            f"within {SELECTION_TOLERANCE} points on both: {'yes' if within else 'no'}; "
            f"above on at least one: {'yes' if above else 'no'}"
        )
    return summary


# -- the run ------------------------------------------------------------------------------


def measure(
    settings: dict[str, Any], external: Path, work: Path, selection: dict[str, Any], datasets: tuple[str, ...]
) -> dict[str, Any]:
    import random

    import jieba
    import joblib
    import numpy as np

    from boundary_nlp import load_dataset, load_model
    from boundary_nlp.model import BoundaryClassifier

    results: dict[str, Any] = {"settings": settings}
    jieba.setLogLevel(30)
    train_texts, train_labels = load_dataset(DATASETS / "train.csv")
    dev_texts, _ = load_dataset(DATASETS / "dev.csv")
    test_texts, test_labels = load_dataset(DATASETS / "test.csv")
    corpus = train_texts + dev_texts + test_texts
    results["data"] = {"train": len(train_texts), "dev": len(dev_texts), "test": len(test_texts)}
    shipped = load_model()
    results["machine"] = machine_info()
    results["checkout"] = {**checkout_info(Path(shipped.path)), "model path": str(shipped.path)}

    # -- training on train.csv, quality on test.csv ---------------------------------------
    chosen = dict(shipped.metadata.get("chosen_params") or {})
    params = classifier_params(chosen)
    results["chosen_params"] = chosen
    log("warm-up: jieba dictionaries (excluded from the training times)")
    jieba.initialize()
    BoundaryClassifier().fit(train_texts[:40], train_labels[:40])  # loads its segmenter

    log(f"fit boundary-nlp BoundaryClassifier(**{chosen}) on train")
    start = time.perf_counter()
    boundary = BoundaryClassifier(**params).fit(train_texts, train_labels)
    boundary_fit = time.perf_counter() - start
    boundary_path = boundary.save(work / "boundary-train.bnlp")

    log("fit the naive stack on train")
    naive = build_naive()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        naive.fit(train_texts, train_labels)
        naive_fit = time.perf_counter() - start
    naive_warnings = sorted({type(w.message).__name__ for w in caught})
    naive_path = work / "naive.joblib"
    joblib.dump(naive, naive_path)

    log("fit fastText on train")
    fasttext_model, fasttext_fit = train_fasttext(train_texts, train_labels, work)
    fasttext_path = work / "fasttext.bin"
    fasttext_model.save_model(str(fasttext_path))
    results["fasttext_args"] = {
        key: str(getattr(fasttext_model, key, "?")).removeprefix("loss_name.")
        for key in ("epoch", "lr", "dim", "wordNgrams", "minCount", "bucket", "loss", "thread")
    }

    log("quality on test")
    results["quality"] = {
        "boundary": quality(test_labels, list(boundary.predict(test_texts))),
        "naive": quality(test_labels, list(naive.predict(test_texts))),
        "fasttext": quality(test_labels, fasttext_labels(fasttext_model, test_texts)),
        "shipped": quality(test_labels, list(shipped.predict(test_texts))),
    }
    results["training"] = {
        "boundary": boundary_fit,
        "naive": naive_fit,
        "fasttext": fasttext_fit,
        "naive_warnings": naive_warnings,
    }
    results["size_mb"] = {
        "boundary": file_mb(Path(boundary_path)),
        "shipped": file_mb(Path(shipped.path)),
        "naive": file_mb(naive_path),
        "fasttext": file_mb(fasttext_path),
    }
    for name, figures in results["quality"].items():
        log(
            f"  {name}: macro-F1 {figures['macro_f1']:.4f}, prohibited recall "
            f"{figures['prohibited_recall']:.4f}"
        )

    # -- parity ---------------------------------------------------------------------------
    # the shipped file holds the predictor only; its scikit-learn reference is the pipeline
    # of the BoundaryClassifier fitted above, compared on whole messages (rule 2 off: the
    # pipeline knows nothing of asks) and without the decision's label weights (applied after
    # the probabilities, which are what the two engines share)
    log(
        f"parity: the predictor vs the scikit-learn pipeline of the fitted BoundaryClassifier, "
        f"{len(corpus)} corpus texts"
    )
    from boundary_nlp.inputs import truncate

    reference = boundary.pipeline_.predict_proba([truncate(t, boundary.max_chars)[0] for t in corpus])
    unweighted = boundary.model_.with_label_weights(None)
    batch = unweighted.score(corpus, whole_only=True).proba
    one_by_one = np.vstack([unweighted.score([t], whole_only=True).proba for t in corpus])
    reloaded = load_model(boundary_path).predict_proba(corpus)
    # and with the weights: the pipeline's probabilities times the weights, renormalized
    weights = np.asarray([(boundary.label_weights or {}).get(str(c), 1.0) for c in boundary.model_.classes])
    weighted_reference = reference * weights
    weighted_reference /= weighted_reference.sum(axis=1, keepdims=True)
    weighted = boundary.model_.score(corpus, whole_only=True).proba
    results["parity"] = {
        "texts": len(corpus),
        "params": chosen,
        "same_labels": int(np.sum(batch.argmax(axis=1) == reference.argmax(axis=1))),
        "max_abs_diff": float(np.max(np.abs(batch - reference))),
        "one_by_one_same_labels": int(np.sum(one_by_one.argmax(axis=1) == reference.argmax(axis=1))),
        "one_by_one_max_abs_diff": float(np.max(np.abs(one_by_one - reference))),
        "reloaded_max_abs_diff": float(np.max(np.abs(reloaded - boundary.predict_proba(corpus)))),
        "weights": boundary.label_weights,
        "weighted_same_labels": int(np.sum(weighted.argmax(axis=1) == weighted_reference.argmax(axis=1))),
        "weighted_max_abs_diff": float(np.max(np.abs(weighted - weighted_reference))),
    }
    log(f"  {results['parity']}")

    # -- warm latency ---------------------------------------------------------------------
    messages = random.Random(0).sample(corpus, min(settings["latency_messages"], len(corpus)))
    batches = settings["latency_batches"]
    log(f"warm latency: {len(messages)} messages x {batches} passes per stack")
    # fastText's latency includes jieba segmentation, as the other two stacks' does
    from boundary_nlp.speedups import SPEEDUPS

    results["speedups"] = SPEEDUPS is not None
    with pure_python():
        pure = {
            "boundary_proba_pure_python": latency(lambda t: shipped.predict_proba([t]), messages, batches)
        }
    results["latency"] = {
        **pure,
        "boundary_proba": latency(lambda t: shipped.predict_proba([t]), messages, batches),
        "boundary_classify": latency(shipped.classify, messages, batches),
        "naive": latency(lambda t: naive.predict_proba([t]), messages, batches),
        "fasttext": latency(lambda t: fasttext_model.predict(fasttext_line(t), k=-1), messages, batches),
    }
    for name, figures in results["latency"].items():
        log(
            f"  {name}: p50 {figures['p50_ms']:.3f} ms, p99 {figures['p99_ms']:.3f} ms "
            f"(other processes: {figures['other_cores']:.2f} cores)"
        )

    # -- bulk throughput ------------------------------------------------------------------
    count = settings["bulk_messages"]
    bulk = (corpus * (count // len(corpus) + 1))[:count]
    runs = settings["bulk_runs"]
    log(f"throughput: {len(bulk)} messages x {runs} runs per stack")
    has_n_jobs = accepts_n_jobs(shipped.predict_proba)
    bulk_results: dict[str, Any] = {"has_n_jobs": has_n_jobs}
    if has_n_jobs:
        # a model only ever called with n_jobs, as a batch job would use it: whatever its
        # workers build on first use is built again in every call's fresh forks
        fresh = load_model()
        bulk_results["boundary_parallel_fresh"], _ = throughput(
            lambda texts: fresh.predict_proba(texts, n_jobs=-1), bulk, runs
        )
        del fresh
    single, single_out = throughput(shipped.predict_proba, bulk, runs)
    bulk_results["boundary_single"] = single
    if has_n_jobs:
        # the shipped model has now scored batches in this process (parity, single runs)
        parallel, parallel_out = throughput(lambda texts: shipped.predict_proba(texts, n_jobs=-1), bulk, runs)
        parallel["max_abs_diff_vs_single"] = float(np.max(np.abs(parallel_out - single_out)))
        bulk_results["boundary_parallel"] = parallel
    bulk_results["naive"], _ = throughput(naive.predict_proba, bulk, runs)
    bulk_results["fasttext"], _ = throughput(
        lambda texts: fasttext_model.predict([fasttext_line(t) for t in texts], k=-1), bulk, runs
    )
    results["throughput"] = bulk_results
    for name, figures in bulk_results.items():
        if isinstance(figures, dict):
            log(
                f"  {name}: {figures['rate']:.0f} messages/s "
                f"(other processes: {figures['other_cores']:.2f} cores)"
            )

    # -- subprocesses: cold starts and peak memory ----------------------------------------
    pycache = work / "pycache"
    env = child_env(pycache)
    values = {
        "probe": PROBE,
        "bench": str(BENCH_DIR),
        "naive_path": str(naive_path),
        "fasttext_path": str(fasttext_path),
    }
    cli_argv, cli_text = cli_command()
    commands = {name: python_child(code.format(**values)) for name, code in COLD_CODE.items()}
    commands["cli"] = cli_argv
    log(f"cold starts: {settings['cold_runs']} rounds of {', '.join(commands)}")
    results["cold"], results["cold_other_cores"] = cold_starts(commands, settings["cold_runs"], env)
    results["cli_command"] = cli_text
    results["serving_imports"] = serving_imports(env)
    log(f"  modules imported by load_model() + one prediction: {results['serving_imports']}")

    texts_file = work / "bulk.json"
    texts_file.write_text(json.dumps(bulk, ensure_ascii=False), encoding="utf-8")
    log(f"peak memory: load + predict {len(bulk)} messages in a fresh process, per stack")
    memory = {}
    for name, code in MEMORY_CODE.items():
        memory[name] = peak_memory(code.format(extra="", **values), texts_file, env)
        log(f"  {name}: {memory[name][0]:.0f} MiB (VmHWM {memory[name][2]:.0f} MiB)")
    if has_n_jobs:
        memory["boundary_parallel"] = peak_memory(
            MEMORY_CODE["boundary"].format(extra=", n_jobs=-1", **values), texts_file, env
        )
        log(
            f"  boundary n_jobs=-1: {memory['boundary_parallel'][0]:.0f} MiB, "
            f"largest worker {memory['boundary_parallel'][1]:.0f} MiB"
        )
    results["memory_mib"] = memory

    # -- public datasets ------------------------------------------------------------------
    results["public"] = public_benchmarks(external, settings["public_subsample"], work, selection, datasets)
    return results


# -- the report ---------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def render(results: dict[str, Any], quick: bool, command: str, started: str, seconds: float) -> str:
    s = results["settings"]
    q, cold, lat, bulk, mem = (
        results["quality"],
        results["cold"],
        results["latency"],
        results["throughput"],
        results["memory_mib"],
    )
    size, fit = results["size_mb"], results["training"]
    cm = {name: median(times) for name, times in cold.items()}
    lines = ["# Benchmarks", ""]
    if quick:
        lines += [
            "> **Quick smoke run (`--quick`)**: fewer repeats and subsampled public datasets. "
            "These figures are not the reference ones; run without `--quick` for those.",
            "",
        ]
    lines += [
        "Generated by `benchmarks/run.py`; do not edit by hand. Every figure below was measured in "
        "the run that wrote this file, except the public datasets' reference accuracies, which are "
        "read from `shared/external/README.md`.",
        "",
        f"- Date: {started} (run took {seconds / 60:.1f} min)",
        f"- Reproduce: `{command}` (from the repository root, with the project's virtualenv)",
        f"- Data: datasets/train.csv {results['data']['train']} rows, dev {results['data']['dev']}, "
        f"test {results['data']['test']}",
        "",
        "Stacks, all trained on `datasets/train.csv` for the comparison:",
        "",
        f"- **boundary-nlp**: `BoundaryClassifier(**{results['chosen_params']})` (the shipped model's "
        "`metadata['chosen_params']`), fitted on train only. Speed, memory and cold-start rows use "
        "the shipped default model (`load_model()`, trained on train+dev). Its optional C module "
        "(`boundary_nlp._speedups`, built at install when a C compiler is present) was "
        + ("**used**" if results.get("speedups") else "**not built**: every boundary-nlp row is pure Python")
        + "; one latency row also gives the pure-Python figure.",
        "- **naive**: `jieba.lcut` (default cut) word 1-2 gram TF-IDF + char 1-3 gram TF-IDF "
        "(`FeatureUnion`) + `LogisticRegression()`, scikit-learn defaults, single-character tokens "
        "kept (`tokenizer=jieba.lcut`, `token_pattern=None`)"
        + (f"; fitting raised {', '.join(fit['naive_warnings'])}" if fit["naive_warnings"] else "")
        + ".",
        f"- **fastText**: {results['machine']['fastText binding']}, "
        "`train_supervised(wordNgrams=2, epoch=25)` "
        "(25 epochs as in fastText's tutorial for a small dataset), other settings the binding's defaults ("
        + ", ".join(f"{k}={v}" for k, v in results["fasttext_args"].items())
        + "; the hashed n-gram buckets are most of the `.bin` size), on jieba-segmented text (default "
        "cut); its latency and throughput include the jieba segmentation.",
        "",
        "## Quality on datasets/test.csv",
        "",
        "| stack | macro-F1 | prohibited recall | accuracy | training time (fit on train) | model on disk |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, name in (("boundary", "boundary-nlp"), ("naive", "naive"), ("fasttext", "fastText")):
        lines.append(
            f"| {name} | {q[key]['macro_f1']:.4f} | {q[key]['prohibited_recall']:.4f} | "
            f"{q[key]['accuracy']:.4f} | {fit[key]:.1f} s | {size[key]:.1f} MB |"
        )
    lines += [
        f"| shipped model (train+dev, separate line) | {q['shipped']['macro_f1']:.4f} | "
        f"{q['shipped']['prohibited_recall']:.4f} | {q['shipped']['accuracy']:.4f} | - | "
        f"{size['shipped']:.1f} MB |",
        "",
        "Nothing was tuned on test: boundary-nlp's parameters were chosen by `boundary-nlp train` "
        "without test (recorded in the shipped model); the other two stacks use fixed defaults. "
        "Training times exclude loading jieba's dictionaries (done once before timing).",
        "",
        "## Speed and memory",
        "",
        "| measure | boundary-nlp | naive | fastText | boundary / naive | target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    cold_target = cm["boundary"] <= COLD_TARGET * cm["naive_bare"]
    lines += [
        f"| cold start: fresh process, `load_model()` (shipped model) + predict 1 message (s) | "
        f"{cm['boundary']:.2f} | {cm['naive']:.2f} | {cm['fasttext']:.2f} | "
        f"{ratio(cm['boundary'], cm['naive'])} | |",
        f'| naive "bare start": import jieba + `jieba.initialize()` + joblib + scikit-learn\'s pipeline, '
        f"text and linear modules (s) | | {cm['naive_bare']:.2f} | | "
        f"{ratio(cm['boundary'], cm['naive_bare'])} | boundary cold start <= {COLD_TARGET}x bare start: "
        f"{verdict(cold_target)} |",
        f"| CLI `{results['cli_command']}` (s) | {cm['cli']:.2f} | | | | |",
        f"| empty interpreter, `python -c pass` (s), for scale | {cm['interpreter']:.2f} | | | | |",
    ]
    p50_target = lat["boundary_proba"]["p50_ms"] <= 0.3
    lines += [
        f"| warm latency p50, 1 message (ms) | {lat['boundary_proba']['p50_ms']:.3f} | "
        f"{lat['naive']['p50_ms']:.3f} | {lat['fasttext']['p50_ms']:.3f} | "
        f"{ratio(lat['boundary_proba']['p50_ms'], lat['naive']['p50_ms'])} | boundary p50 <= 0.3 ms: "
        f"{verdict(p50_target)} |",
        f"| warm latency p99, 1 message (ms) | {lat['boundary_proba']['p99_ms']:.3f} | "
        f"{lat['naive']['p99_ms']:.3f} | {lat['fasttext']['p99_ms']:.3f} | "
        f"{ratio(lat['boundary_proba']['p99_ms'], lat['naive']['p99_ms'])} | |",
        f"| `classify(text)` p50 / p99 (ms) | {lat['boundary_classify']['p50_ms']:.3f} / "
        f"{lat['boundary_classify']['p99_ms']:.3f} | | | | |",
    ]
    if "boundary_proba_pure_python" in lat:
        pure = lat["boundary_proba_pure_python"]
        lines.append(
            f"| warm latency p50 / p99 without the C module (pure Python, as with "
            f"`BOUNDARY_NLP_PURE_PYTHON=1`) (ms) | {pure['p50_ms']:.3f} / {pure['p99_ms']:.3f} | | | "
            f"{ratio(pure['p50_ms'], lat['naive']['p50_ms'])} | |"
        )
    single = bulk["boundary_single"]["rate"]
    naive_rate = bulk["naive"]["rate"]
    if bulk["has_n_jobs"]:
        best, best_name = bulk["boundary_parallel"]["rate"], "both `n_jobs=-1` rows"
        lines.append(
            f"| throughput, `predict_proba(texts, n_jobs=-1)`, model already used in this process for "
            f"batches (messages/s; other processes kept "
            f"{bulk['boundary_parallel']['other_cores']:.1f} of {os.cpu_count()} cores busy meanwhile) | "
            f"{best:,.0f} | "
            f"{naive_rate:,.0f} | {bulk['fasttext']['rate']:,.0f} | {ratio(best, naive_rate)} | >= 5x naive: "
            f"{verdict(best >= 5 * naive_rate)} |"
        )
        fresh = bulk["boundary_parallel_fresh"]["rate"]
        lines.append(
            f"| throughput, `n_jobs=-1` on a freshly loaded model that is only ever called with "
            f"`n_jobs=-1` (messages/s) | {fresh:,.0f} | | | {ratio(fresh, naive_rate)} | >= 5x naive: "
            f"{verdict(fresh >= 5 * naive_rate)} |"
        )
        lines.append(
            f"| throughput, single process (messages/s) | {single:,.0f} | | | {ratio(single, naive_rate)} | |"
        )
    else:
        best, best_name = single, "single process"
        lines.append(
            f"| throughput, single process (messages/s; this `predict_proba` has no `n_jobs`) | "
            f"{single:,.0f} | {naive_rate:,.0f} | {bulk['fasttext']['rate']:,.0f} | "
            f"{ratio(single, naive_rate)} | >= 5x naive: {verdict(single >= 5 * naive_rate)} |"
        )
    lines.append(
        f"| peak memory, fresh process: load + predict {s['bulk_messages']:,} messages (MiB) | "
        f"{mem['boundary'][0]:.0f} | {mem['naive'][0]:.0f} | {mem['fasttext'][0]:.0f} | "
        f"{ratio(mem['boundary'][0], mem['naive'][0])} | |"
    )
    if "boundary_parallel" in mem:
        lines.append(
            f"| peak memory with `n_jobs=-1`: parent / largest forked worker (MiB) | "
            f"{mem['boundary_parallel'][0]:.0f} / {mem['boundary_parallel'][1]:.0f} | | | | |"
        )
    lines += [
        f"| model on disk (MB; boundary: shipped model, {size['boundary']:.1f} MB for the train-only "
        f"fit) | {size['shipped']:.1f} | {size['naive']:.1f} | {size['fasttext']:.1f} | "
        f"{ratio(size['shipped'], size['naive'])} | |",
        "",
        f"Cold starts: wall time of a subprocess (`sys.executable`) from spawn to exit, median of "
        f"{s['cold_runs']} runs after one untimed warm-up, the commands interleaved. Bytecode is "
        "cached (in a temporary `PYTHONPYCACHEPREFIX`, as for an installed package) and jieba's "
        "prefix-dictionary cache is warm. Latency: single-message calls on "
        f"{s['latency_messages']:,} corpus messages, median over {s['latency_batches']} passes of each "
        f"pass's percentile, after a warm-up pass. Throughput: the {s['bulk_messages']:,} messages "
        f"(train+dev+test texts, cycled), median of {s['bulk_runs']} runs; the throughput target is "
        f"judged on {best_name}. Peak memory: `ru_maxrss` of a fresh process that loads the model "
        "and predicts all of them (started through a small launcher, since Linux carries a parent's "
        "ru_maxrss over fork + exec; the raw runs list VmHWM as a cross-check).",
        "",
        *render_cold(results),
        "",
        "## Parity of the fast path",
        "",
    ]
    parity = results["parity"]
    n = parity["texts"]
    lines.append(
        f"The shipped file holds the predictor only (no scikit-learn object), so parity is checked on "
        f"the `BoundaryClassifier(**{parity['params']})` fitted on train above: its predictor "
        f"(`model_.with_label_weights(None).score(texts, whole_only=True)`: whole messages, as "
        f"scikit-learn scores them, and without the label weights, which scale the shared "
        f"probabilities afterwards) vs its "
        f"scikit-learn pipeline (`pipeline_.predict_proba`) on all {n:,} corpus texts. Batch (numpy): "
        f"{parity['same_labels']:,} / {n:,} identical labels, max abs probability difference "
        f"{parity['max_abs_diff']:.2e}. One text at a time ("
        + ("the C module" if results.get("speedups") else "pure Python, no C module built")
        + f"): {parity['one_by_one_same_labels']:,} / {n:,} identical labels, max abs difference "
        f"{parity['one_by_one_max_abs_diff']:.2e}. Saved as `.bnlp` and loaded back with `load_model(path)`: "
        f"max abs difference {parity['reloaded_max_abs_diff']:.2e} from the fitted model."
        + (
            f" With the label weights {parity['weights']} (the predictor as used) against the pipeline's "
            f"probabilities times the weights, renormalized: {parity['weighted_same_labels']:,} / {n:,} "
            f"identical labels, max abs difference {parity['weighted_max_abs_diff']:.2e}."
            if parity.get("weights")
            else ""
        )
    )
    if bulk["has_n_jobs"]:
        lines.append(
            f"`n_jobs=-1` vs single process on the {s['bulk_messages']:,} messages: max abs "
            f"difference {bulk['boundary_parallel']['max_abs_diff_vs_single']:.2e}."
        )
    lines += ["", "## Public datasets", ""]
    lines += render_public(results["public"], quick)
    lines += ["", "## Machine", ""]
    for key, value in results["machine"].items():
        lines.append(f"- {key}: {value}")
    for key, value in results["checkout"].items():
        lines.append(f"- {key}: {value}")
    lines += ["", "## Raw runs", ""]
    lines.append(
        "Other processes' average load while each measurement ran, in cores (of "
        f"{os.cpu_count()}): cold starts {results['cold_other_cores']:.2f}; latency "
        + ", ".join(f"`{n}` {f['other_cores']:.2f}" for n, f in lat.items())
        + "; throughput "
        + ", ".join(f"`{n}` {f['other_cores']:.2f}" for n, f in bulk.items() if isinstance(f, dict))
        + "."
    )
    lines.append("")
    for name, times in cold.items():
        lines.append(f"- cold `{name}` (s): " + ", ".join(f"{t:.3f}" for t in times))
    for name, figures in lat.items():
        pairs = zip(figures["p50_runs"], figures["p99_runs"], strict=True)
        lines.append(
            f"- latency `{name}` p50 / p99 per pass (ms): " + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in pairs)
        )
    for name, figures in mem.items():
        lines.append(
            f"- peak memory `{name}` (MiB): ru_maxrss {figures[0]:.1f}, largest child "
            f"{figures[1]:.1f}, VmHWM {figures[2]:.1f}"
        )
    for name, figures in bulk.items():
        if isinstance(figures, dict):
            lines.append(
                f"- throughput `{name}` (messages/s): " + ", ".join(f"{r:,.0f}" for r in figures["runs"])
            )
    return "\n".join(lines) + "\n"


def render_cold(results: dict[str, Any]) -> list[str]:
    """The cold-start target (issue 13 item 7): the ratio, run by run, and the imports."""
    cold = results["cold"]
    boundary, bare = cold["boundary"], cold["naive_bare"]
    rounds = [b / n for b, n in zip(boundary, bare, strict=True)]
    ratio_of_medians = median(boundary) / median(bare)
    imports = results.get("serving_imports", {})
    absent = [name for name in TRAINING_MODULES if name in imports and not imports[name]]
    present = [name for name in TRAINING_MODULES if imports.get(name)]
    lines = [
        f"Cold start against the target (boundary cold start <= {COLD_TARGET}x the naive stack's bare "
        f"start): median {median(boundary):.3f} s / median {median(bare):.3f} s = "
        f"**{ratio_of_medians:.3f}**, "
        f"{verdict(ratio_of_medians <= COLD_TARGET)}; round by round ({len(rounds)} rounds) "
        + ", ".join(f"{r:.3f}" for r in rounds)
        + f" (median {median(rounds):.3f}, worst {max(rounds):.3f}).",
    ]
    if imports:
        lines.append(
            "Modules in `sys.modules` of a fresh process after `load_model()` + one prediction (checked "
            "in that subprocess): "
            + (f"{', '.join(present)} **imported**" if present else "")
            + ("; " if present and absent else "")
            + (f"{', '.join(absent)} not imported" if absent else "")
            + f"; jieba {'imported' if imports.get('jieba') else 'not imported'}, numpy "
            f"{'imported' if imports.get('numpy') else 'not imported'}. "
            + (
                "No scikit-learn or joblib on the serving path."
                if not (imports.get("sklearn") or imports.get("joblib"))
                else "The serving path still imports training-side modules."
            )
        )
    return lines


def render_public(public: dict[str, Any], quick: bool = False) -> list[str]:
    """The public datasets: ``train()``'s selection, ``BoundaryClassifier()`` and the reference,
    split by split, with the verdict on issue 14 item 6."""
    refs = public.get("references", {})
    summary = public_summary(public)
    chosen = public.get("selection_settings", {})
    if "waimai" not in public and "thucnews" not in public:
        return ["(public datasets not found)"]
    lines = [
        "Each column is fitted on the same training part and scored on the same test part: "
        f"**`train()`** is `boundary_nlp.training.train(train_csv, None, None, folds={chosen.get('folds')}, "
        f"repeats={chosen.get('repeats')})` on a CSV of that training part only (it chooses among its "
        "candidates by repeated stratified group k-fold inside it, simplest within one standard error); "
        "**`BoundaryClassifier()`** is the library's defaults; the **reference** is char 1-3 TF-IDF + "
        'LinearSVC (`TfidfVectorizer(analyzer="char", ngram_range=(1, 3))` + `LinearSVC(random_state=0)` '
        "on the raw text, scikit-learn defaults otherwise). Accuracy in %.",
        "",
        "| dataset | split (train / test rows) | `train()` | chosen by `train()` | `BoundaryClassifier()` "
        "| reference | `train()` - reference (points) | `train()` time |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, title in (("waimai", "waimai_10k"), ("thucnews", "THUCNews titles")):
        if name not in public:
            continue
        folds = public[name]["folds"]
        for number, f in enumerate(folds, start=1):
            split = (
                f"fold {number} ({f['train']:,} / {f['test']:,})"
                if name == "waimai"
                else f"dev.txt -> test.txt ({f['train']:,} / {f['test']:,})"
            )
            lines.append(
                f"| {title} | {split} | {100 * f['selection']:.2f} | "
                f"{describe_params(f['selection_params'])} | "
                f"{100 * f['default']:.2f} | {100 * f['reference']:.2f} | "
                f"{100 * (f['selection'] - f['reference']):+.2f} | {f['selection_seconds']:.0f} s |"
            )
        if len(folds) > 1:
            m = summary[name]
            lines.append(
                f"| {title} | **mean** (sd) | **{100 * m['selection']:.2f}** "
                f"({100 * m['sd']['selection']:.2f}) | "
                f"| {100 * m['default']:.2f} ({100 * m['sd']['default']:.2f}) | "
                f"{100 * m['reference']:.2f} ({100 * m['sd']['reference']:.2f}) | **{m['margin']:+.2f}** "
                f"({m['won']} of {m['splits']} folds won) | {m['seconds']:.0f} s |"
            )
    lines.append("")
    if "target_met" in summary:
        margins = "; ".join(
            f"{title} {summary[name]['margin']:+.2f} points"
            for name, title in (("waimai", "waimai_10k"), ("thucnews", "THUCNews titles"))
        )
        lines.append(
            f"Target (issue 14 item 6: `train()` within {SELECTION_TOLERANCE} accuracy points of the "
            f"reference on both sets and above it on at least one): {margins}; {summary['target_detail']}: "
            f"{verdict(summary['target_met'])}."
            + (" (A `--quick` run on subsets: not the reference figures.)" if quick else "")
        )
    else:
        lines.append("Target (issue 14 item 6) not judged: it needs both public datasets in the run.")
    copied = [
        f"{title}: char 1-3 + LinearSVC {refs[name]['char_svc']}, word 1-2 + LinearSVC "
        f"{refs[name]['word_svc']}, fastText words / chars {refs[name]['fasttext']}"
        for name, title in (("waimai", "waimai_10k 5-fold CV"), ("thucnews", "THUCNews titles"))
        if name in refs
    ]
    if copied:
        lines += [
            "",
            "For comparison, the figures in `shared/external/README.md` (measured elsewhere with "
            "jieba 0.42.1 and scikit-learn 1.9.1 on a 2-core machine, not in this run): "
            + "; ".join(copied)
            + ".",
        ]
    lines += ["", f"The public part took {public.get('seconds', 0) / 60:.1f} min (every fit above included)."]
    return lines


def describe_params(params: dict[str, Any]) -> str:
    chars = "char {}-{}".format(*params.get("char_ngram_range", (1, 3)))
    word_range = params.get("word_ngram_range", (1, 2))
    words = chars if word_range is None else "word {}-{} + {}".format(*word_range, chars)
    classifier = {"svc": "SVM", "logreg": "LR"}.get(params.get("classifier"), params.get("classifier"))
    return f"{words}, {classifier} C={params.get('C'):g}"


# sections of BENCHMARKS.md that other scripts write (serve_load.py...): kept as they are
PRESERVED_MARKERS = (
    ("<!-- serve:start -->", "<!-- serve:end -->"),
    ("<!-- bulk:start -->", "<!-- bulk:end -->"),
    ("<!-- serve-load -->", "<!-- /serve-load -->"),
)


def preserved_sections(old: str) -> list[str]:
    """The marked sections of an existing report, markers included, in their order there.
    A start marker without its end keeps everything after it."""
    found = []
    for start_mark, end_mark in PRESERVED_MARKERS:
        start = old.find(start_mark)
        if start < 0:
            continue
        end = old.find(end_mark, start + len(start_mark))
        if end < 0:
            log(f"warning: {start_mark} without {end_mark}; keeping the rest of the file after it")
            stop = len(old)
        else:
            stop = end + len(end_mark)
        found.append((start, old[start:stop].rstrip() + "\n"))
    return [text for _, text in sorted(found)]


def with_preserved(report: str, output: Path) -> str:
    """``report`` followed by the sections other scripts own in the file it replaces."""
    if not output.is_file():
        return report
    sections = preserved_sections(output.read_text(encoding="utf-8"))
    return report if not sections else report.rstrip() + "\n\n" + "\n".join(sections)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def render_public_only(
    results: dict[str, Any], quick: bool, command: str, started: str, seconds: float
) -> str:
    lines = [
        "# Benchmarks: public datasets only",
        "",
        f"Generated by `{command}` on {started} ({seconds / 60:.1f} min); the other sections of "
        "BENCHMARKS.md were not measured in this run.",
        "",
    ]
    lines += render_public(results["public"], quick)
    lines += ["", "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in results["machine"].items()]
    lines += [f"- {key}: {value}" for key, value in results["checkout"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    from boundary_nlp.training import DEFAULT_FOLDS, DEFAULT_REPEATS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: fewer repeats, 1,500-row public subsets; writes no file unless --output is given",
    )
    parser.add_argument(
        "--only",
        choices=("all", "public"),
        default="all",
        help="'public': only the public datasets (train() vs the reference); prints "
        "its report and writes a file only with --output",
    )
    parser.add_argument(
        "--datasets",
        default="waimai,thucnews",
        help="public datasets to run, comma-separated (default: waimai,thucnews)",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=DEFAULT_FOLDS,
        help=f"train()'s cross-validation folds on the public sets (default {DEFAULT_FOLDS})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=DEFAULT_REPEATS,
        help=f"train()'s cross-validation repeats (default {DEFAULT_REPEATS})",
    )
    parser.add_argument(
        "--n-jobs", type=int, default=-1, help="train()'s worker processes (default -1: every core)"
    )
    parser.add_argument("--output", help="report path (default: BENCHMARKS.md at the repository root)")
    parser.add_argument("--json", help="also write the raw results as JSON to this path")
    parser.add_argument(
        "--external",
        default=str(DEFAULT_EXTERNAL),
        help=f"folder of the public datasets (default: {DEFAULT_EXTERNAL})",
    )
    args = parser.parse_args(argv)
    datasets = tuple(name.strip() for name in args.datasets.split(",") if name.strip())
    unknown = set(datasets) - {"waimai", "thucnews"}
    if unknown:
        parser.error(f"unknown datasets: {', '.join(sorted(unknown))} (known: waimai, thucnews)")
    settings = dict(QUICK if args.quick else FULL)
    selection = {"folds": args.folds, "repeats": args.repeats, "n_jobs": args.n_jobs}
    options = [
        opt
        for opt, given in (
            ("--quick", args.quick),
            (f"--only {args.only}", args.only != "all"),
            (f"--datasets {args.datasets}", datasets != ("waimai", "thucnews")),
            (f"--folds {args.folds}", args.folds != DEFAULT_FOLDS),
            (f"--repeats {args.repeats}", args.repeats != DEFAULT_REPEATS),
        )
        if given
    ]
    command = " ".join([REPRODUCE, *options])
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    start = time.perf_counter()
    with OtherLoad() as whole, tempfile.TemporaryDirectory(prefix="boundary-bench-") as folder:
        if args.only == "public":
            from boundary_nlp.persistence import default_model_path

            results = {
                "settings": settings,
                "machine": machine_info(),
                "checkout": {**checkout_info(default_model_path()), "model path": str(default_model_path())},
            }
            results["public"] = public_benchmarks(
                Path(args.external), settings["public_subsample"], Path(folder), selection, datasets
            )
        else:
            results = measure(settings, Path(args.external), Path(folder), selection, datasets)
    seconds = time.perf_counter() - start
    model_path = Path(results["checkout"].pop("model path"))
    if checkout_info(model_path) != {k: v for k, v in results["checkout"].items()}:
        results["checkout"]["warning"] = (
            "src/ or the shipped model changed while the run was going on; "
            "the figures may mix two versions: run again"
        )
    results["machine"]["other processes during the run"] = (
        f"{whole.cores:.2f} cores busy on average (of {os.cpu_count()}"
        + ("" if args.only == "public" else "; per measurement under Raw runs")
        + ")"
        + ("; timings are noisier than on an idle machine" if whole.cores > 0.1 else "")
    )
    if args.only == "public":
        report = render_public_only(results, args.quick, command, started, seconds)
        output = args.output
    else:
        report = render(results, args.quick, command, started, seconds)
        output = args.output or (None if args.quick else str(ROOT / "BENCHMARKS.md"))
    print()
    print(report)
    if output:
        write_text(Path(output), with_preserved(report, Path(output)))
        log(f"wrote {output}")
    if args.json:
        write_text(Path(args.json), json.dumps(results, indent=2, ensure_ascii=False, default=str))
    log(f"done in {seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
