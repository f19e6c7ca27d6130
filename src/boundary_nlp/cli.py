"""The ``boundary-nlp`` command: argument parsing only; every command calls the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._files import SameFileError, Terminated, partial_path, refuse_same_file, sigterm_raises
from ._version import __version__
from .errors import BoundaryNLPError
from .inputs import DEFAULT_MAX_CHARS
from .labels import LABELS, RECALL_FLOOR


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="model file (default: the shipped model)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boundary-nlp",
        description="Classify client requests: in_scope 工作范围内 / courtesy 人情帮忙 / prohibited 越界禁止",
    )
    parser.add_argument("--version", action="version", version=f"boundary-nlp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="classify one message, or a file of messages")
    predict.add_argument("text", nargs="?", help="the message (omit with --input)")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument(
        "--input", help="batch input: .csv, .jsonl, or - for JSON lines / plain lines on stdin"
    )
    predict.add_argument("--output", help="batch output: .csv or .jsonl (default: JSON lines on stdout)")
    predict.add_argument("--text-column", default="text", help="column holding the message (default: text)")
    predict.add_argument(
        "--encoding", default="utf-8", help="input encoding, also of stdin, e.g. gb18030 (default: utf-8)"
    )
    predict.add_argument(
        "--output-encoding",
        help="output encoding (default: utf-8 with a byte-order mark for .csv, for Excel; utf-8 for .jsonl)",
    )
    _add_output_options(predict)
    predict.add_argument("--threshold", type=float, help="confidence below which a prediction is uncertain")
    _add_model_option(predict)

    analyze = commands.add_parser("analyze", help="split a multi-ask message and classify each ask")
    analyze.add_argument("text")
    analyze.add_argument("--json", action="store_true")
    analyze.add_argument(
        "--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="analyse only the first N characters"
    )
    _add_model_option(analyze)

    train = commands.add_parser("train", help="train a model and write its model card")
    train.add_argument("--train", required=True, help="training data (.csv/.jsonl with text,label)")
    train.add_argument("--dev", help="more labelled data; joins train in the cross-validation pool")
    train.add_argument("--test", help="test data, scored once by the final model")
    train.add_argument(
        "--out", required=True, help="model file to write (.bnlp); its card goes beside it as .md"
    )
    train.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    train.add_argument("--repeats", type=int, default=2, help="cross-validation repeats (default 2)")
    train.add_argument("--n-jobs", type=int, default=-1, help="parallel fits (default -1: every core)")
    train.add_argument(
        "--recall-floor",
        type=_share,
        default=RECALL_FLOOR,
        help=f"weigh prohibited in the decision until its out-of-fold recall reaches this "
        f"(default {RECALL_FLOOR}; 0: no weight)",
    )
    train.add_argument("--encoding", default="utf-8")

    convert = commands.add_parser("convert-model", help="convert an old joblib model file to the safe format")
    convert.add_argument("old", help="the old .joblib model file")
    convert.add_argument("new", help="the model file to write (.bnlp)")
    convert.add_argument(
        "--trust-pickle",
        action="store_true",
        help="confirm you trust OLD: loading it runs pickle, which can run code",
    )

    evaluate = commands.add_parser("evaluate", help="score a model on labelled data")
    evaluate.add_argument(
        "--data",
        action="append",
        help="labelled .csv/.jsonl (with --behaviour: repeat for several files; default the "
        "source checkout's datasets/dev.csv and datasets/test.csv)",
    )
    evaluate.add_argument(
        "--behaviour",
        action="store_true",
        help="run the behavioural suite (MFT, invariance, directional tests) and print its table",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="with --behaviour: sampling seed")
    evaluate.add_argument(
        "--max-cases", type=int, help="with --behaviour: cases per generated test (default 600)"
    )
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--errors", help="write misclassified rows to this .csv")
    evaluate.add_argument("--plot", help="draw the confusion matrix to this .png (needs matplotlib)")
    evaluate.add_argument("--encoding", default="utf-8")
    _add_output_options(evaluate, partial=False)
    _add_model_option(evaluate)

    check = commands.add_parser("check-data", help="check a data folder or file (text, label; any labels)")
    check.add_argument("path")
    check.add_argument("--json", action="store_true")
    check.add_argument("--encoding", default="utf-8")
    check.add_argument(
        "--corpus",
        action="store_true",
        help="also the project corpus's rules: id, domain, register columns, the three labels, style markers",
    )
    check.add_argument(
        "--strict-markers", action="store_true", help="with --corpus: unbalanced style markers are errors"
    )

    ledger = commands.add_parser("ledger", help="the degree (度) ledger of favors per client")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    record = ledger_commands.add_parser("record", help="classify and record a client's request")
    record.add_argument("text")
    record.add_argument("--client", required=True)
    status = ledger_commands.add_parser("status", help="a client's favors in the window")
    status.add_argument("--client", required=True)
    history = ledger_commands.add_parser("history", help="a client's recorded requests")
    history.add_argument("--client", required=True)
    prune = ledger_commands.add_parser("prune", help="delete requests older than N days (retention)")
    prune.add_argument("--older-than-days", type=float, required=True)
    path = ledger_commands.add_parser("path", help="print where the ledger file is")
    for sub in (record, status, history, prune, path):
        sub.add_argument("--db", help="ledger file (default: in the user's data directory)")
    for sub in (record, status, history, prune):
        sub.add_argument("--window-days", type=float, default=7.0)
        sub.add_argument("--limit", type=int, default=3)
        sub.add_argument("--json", action="store_true")
        _add_model_option(sub)

    serve = commands.add_parser("serve", help="HTTP API (/v1/...) and a web page; needs the [serve] extra")
    _add_model_option(serve)
    serve.add_argument("--ledger", help="ledger file (default: in the user's data directory)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--token",
        help="API token required by every /v1 endpoint but health; needed for a non-loopback "
        "--host (default: the BOUNDARY_NLP_TOKEN environment variable, which ps does not show)",
    )
    serve.add_argument("--window-days", type=float, default=7.0, help="ledger window (default: 7)")
    serve.add_argument(
        "--limit", type=int, default=3, help="courtesy favors allowed in the window (default: 3)"
    )
    serve.add_argument("--max-items", type=int, default=100, help="texts per classify request (default: 100)")
    serve.add_argument("--max-text-chars", type=int, default=5000, help="characters per text (default: 5000)")
    serve.add_argument(
        "--max-body-bytes", type=int, default=1024 * 1024, help="request body size (default: 1 MiB)"
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every request (off: it holds client names)"
    )
    return parser


def _add_output_options(parser: argparse.ArgumentParser, partial: bool = True) -> None:
    parser.add_argument(
        "--no-csv-escape",
        action="store_true",
        help="write CSV cells starting with = + - @ tab CR as they are "
        "(default: prefix ' so Excel does not run them)",
    )
    if partial:
        parser.add_argument(
            "--keep-partial",
            action="store_true",
            help="if interrupted, keep what was written as OUTPUT.partial (default: write nothing)",
        )


def _print_prediction(prediction, as_json: bool) -> None:
    if as_json:
        print(json.dumps(prediction.to_dict(), ensure_ascii=False))
        return
    flag = "（把握不大，请与项目经理确认 / uncertain）" if prediction.uncertain else ""
    print(f"标签 label: {prediction.label_zh} {prediction.label}{flag}")
    print(f"置信度 confidence: {prediction.confidence:.3f}")
    probabilities = ", ".join(f"{k} {v:.3f}" for k, v in prediction.probabilities.items())
    print(f"概率 probabilities: {probabilities}")
    if prediction.evidence:
        terms = ", ".join(f"{e.term} (+{e.weight:.2f})" for e in prediction.evidence)
        print(f"依据 evidence: {terms}")
    if prediction.uncertain:
        print(f"注意 note: {prediction.reason_text}")
    if prediction.truncated:
        print("注意 note: the message was truncated to the model's max_chars")
    if prediction.advice is not None:
        print(f"建议 advice: {prediction.advice.action}")
        print(f"参考回复 reply: {prediction.advice.reply}")


def _cmd_predict(args) -> int:
    from .data import lookup_encoding
    from .persistence import load_model

    if args.input:
        refuse_same_file([args.output], [args.input, args.model])
        lookup_encoding(args.encoding)
        if args.output_encoding:
            lookup_encoding(args.output_encoding)
    model = load_model(args.model)
    if args.input:
        from .batch import predict_file

        summary = predict_file(
            model,
            args.input,
            args.output,
            text_column=args.text_column,
            encoding=args.encoding,
            progress=sys.stderr.isatty(),
            output_encoding=args.output_encoding,
            csv_escape=not args.no_csv_escape,
            keep_partial=args.keep_partial,
            threshold=args.threshold,
        )
        print(summary, file=sys.stderr)
        return 0
    if args.text is None:
        raise _UsageError("give a message to classify, or --input FILE")
    _print_prediction(model.classify(args.text, threshold=args.threshold), args.json)
    return 0


def _cmd_analyze(args) -> int:
    from .analysis import analyze
    from .persistence import load_model

    result = analyze(args.text, model=load_model(args.model), max_chars=args.max_chars)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    for number, part in enumerate(result.parts, start=1):
        print(
            f"{number}. {part.text}  ->  {part.prediction.label_zh} {part.prediction.label} "
            f"({part.prediction.confidence:.2f})"
        )
    print(f"整体 overall: {result.overall.label_zh} {result.overall.label} ({result.reason})")
    if result.truncated:
        print(f"注意 note: only the first {args.max_chars} characters were analysed (--max-chars)")
    return 0


def _share(value: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        share = float(value)
    except ValueError:
        share = float("nan")
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {value!r}")
    return share


def _cmd_train(args) -> int:
    from .data import load_dataset
    from .evaluation import card_sections
    from .persistence import save_model, write_sha256
    from .training import model_card, model_metadata, train

    refuse_same_file(
        [args.out, Path(args.out).with_suffix(".md"), f"{args.out}.sha256"], [args.train, args.dev, args.test]
    )
    result = train(
        args.train,
        args.dev,
        args.test,
        folds=args.folds,
        repeats=args.repeats,
        n_jobs=args.n_jobs,
        encoding=args.encoding,
        log=print,
        recall_floor=args.recall_floor,
    )
    print(f"chosen: {result.params}, uncertainty threshold {result.threshold}")
    print("\n== out-of-fold (chosen setting) ==")
    print(result.cv.format())
    sections = []
    if result.test is not None:
        print("\n== test (final model) ==")
        print(result.test.format())
        test_texts, test_labels = load_dataset(args.test, encoding=args.encoding)
        sections = card_sections(result.model, test_texts, test_labels)
        if {str(c) for c in result.model.classes_} == set(LABELS):
            from .behaviour import load_texts, run_behaviour

            files = [f for f in (args.dev, args.test) if f is not None]
            report = run_behaviour(result.model, *load_texts(files, encoding=args.encoding))
            print("\n== behaviour ==")
            print(report.format())
            sections.append(
                f"## Behaviour\nBehavioural tests (`boundary_nlp.behaviour`) on {' + '.join(files)} and the "
                "package's hand-written seeds; reproduce with `boundary-nlp evaluate --behaviour`.\n\n"
                + report.to_markdown()
            )
    command = (
        " ".join(["boundary-nlp", *sys.argv[1:]]) if sys.argv[1:2] == ["train"] else "boundary-nlp train ..."
    )
    card = model_card(result, args.out, command, sections)
    out = save_model(result.model, args.out, metadata=model_metadata(result), card=card)
    write_sha256(out)
    print(f"\nwrote {out} (model card inside and beside it: {Path(out).with_suffix('.md')})")
    return 0


def _cmd_convert(args) -> int:
    from .persistence import load_legacy_model, write_sha256

    if not args.trust_pickle:
        raise _UsageError(
            f"{args.old} is a pickle-based model file, and unpickling can run code: add --trust-pickle "
            "if you made it yourself or otherwise trust it"
        )
    import warnings

    from .errors import PickleSecurityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PickleSecurityWarning)  # the user just said they trust it
        model = load_legacy_model(args.old, trust_pickle=True)
    card_path = Path(args.old).with_suffix(".md")
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    out = model.save(args.new, card=card)
    write_sha256(out)
    print(f"wrote {out}")
    return 0


def _cmd_behaviour(args) -> int:
    from .behaviour import DEFAULT_MAX_CASES, default_corpus_files, load_texts, run_behaviour
    from .persistence import load_model

    texts, gold = load_texts(args.data or default_corpus_files(), encoding=args.encoding)
    report = run_behaviour(
        load_model(args.model), texts, gold, seed=args.seed, max_cases=args.max_cases or DEFAULT_MAX_CASES
    )
    print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else report.format())
    return 0


def _cmd_evaluate(args) -> int:
    from .data import load_dataset
    from .evaluation import error_rows, evaluate, training_data_warning
    from .persistence import load_model

    if args.behaviour:
        return _cmd_behaviour(args)
    if not args.data or len(args.data) > 1:
        raise _UsageError("give one labelled file with --data (several only with --behaviour)")
    refuse_same_file([args.errors, args.plot], [*args.data, args.model])
    model = load_model(args.model)
    texts, gold = load_dataset(args.data[0], encoding=args.encoding)
    evaluation = evaluate(model, texts, gold)
    warning = training_data_warning(model, args.data[0])
    if warning:
        evaluation.warnings.append(warning)
        print(f"boundary-nlp: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(evaluation.to_dict(), ensure_ascii=False))
    else:
        print(evaluation.format())
    if args.errors:
        count = error_rows(model, texts, gold, args.errors, csv_escape=not args.no_csv_escape)
        print(f"wrote {count} misclassified rows to {args.errors}", file=sys.stderr)
    if args.plot:
        from .plotting import plot_confusion

        plot_confusion(evaluation, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _cmd_check(args) -> int:
    from .data import check

    if args.strict_markers and not args.corpus:
        raise _UsageError("--strict-markers needs --corpus")
    report = check(args.path, encoding=args.encoding, corpus=args.corpus, strict_markers=args.strict_markers)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "stats": report.stats,
                    "problems": [str(p) for p in report.problems],
                    "warnings": [str(w) for w in report.warnings],
                },
                ensure_ascii=False,
            )
        )
    else:
        print(report.format())
    return 0 if report.ok else 1


def _cmd_ledger(args) -> int:
    from .ledger import FavorLedger, default_ledger_path
    from .persistence import load_model

    if args.ledger_command == "path":
        print(Path(args.db) if args.db else default_ledger_path())
        return 0
    model = load_model(args.model) if args.ledger_command == "record" else None
    with FavorLedger(args.db, window_days=args.window_days, limit=args.limit, model=model) as ledger:
        if args.ledger_command == "prune":
            deleted = ledger.prune(args.older_than_days)
            if args.json:
                print(json.dumps({"deleted": deleted, "file": ledger.file}, ensure_ascii=False))
            else:
                print(f"deleted {deleted} request(s) older than {args.older_than_days:g} days: {ledger.file}")
            return 0
        if args.ledger_command == "record":
            status = ledger.record(args.client, args.text)
        elif args.ledger_command == "status":
            status = ledger.status(args.client)
        else:
            entries = ledger.history(args.client)
            if args.json:
                print(json.dumps([e.to_dict() for e in entries], ensure_ascii=False))
            else:
                for e in entries:
                    print(
                        f"{e.when.isoformat(timespec='seconds')}  {e.label:<10}  {e.confidence:.2f}  {e.text}"
                    )
            return 0
    if args.json:
        print(json.dumps(status.to_dict(), ensure_ascii=False))
    else:
        print(status.format())
    return 0


def _cmd_serve(args) -> int:
    import os

    try:
        from .serve import serve
    except ImportError as error:
        raise _MissingExtra(
            f"the serve command needs the [serve] extra ({error.name} is missing): "
            "pip install 'boundary-nlp[serve]'"
        ) from error
    token = args.token if args.token is not None else os.environ.get("BOUNDARY_NLP_TOKEN") or None
    # ServeError (no token for a non-loopback host...) is a ValueError: one line, exit 2
    serve(
        args.model,
        args.ledger,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=token,
        access_log=args.access_log,
        window_days=args.window_days,
        limit=args.limit,
        max_items=args.max_items,
        max_text_chars=args.max_text_chars,
        max_body_bytes=args.max_body_bytes,
    )
    return 0


class _MissingExtra(ValueError):
    """An optional extra is not installed; main prints it as one error line (exit 2)."""


class _UsageError(Exception):
    pass


_COMMANDS = {
    "predict": _cmd_predict,
    "analyze": _cmd_analyze,
    "train": _cmd_train,
    "convert-model": _cmd_convert,
    "evaluate": _cmd_evaluate,
    "check-data": _cmd_check,
    "ledger": _cmd_ledger,
    "serve": _cmd_serve,
}


def _outputs(args) -> list[str]:
    """The files a command writes, for the message after an interruption."""
    if args.command == "predict":
        return [args.output] if args.input and args.output not in (None, "-") else []
    if args.command == "evaluate":
        return [p for p in (args.errors, args.plot) if p]
    if args.command == "train":
        return [args.out]
    return []


def _interrupted(args, error: KeyboardInterrupt) -> int:
    how = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted"
    outputs = _outputs(args)
    if not outputs:
        message = f"boundary-nlp: {how}"
    elif getattr(args, "keep_partial", False) and partial_path(outputs[0]).exists():
        message = (
            f"boundary-nlp: {how}; {outputs[0]} was not written; "
            f"the rows done so far are in {partial_path(outputs[0])}"
        )
    else:
        message = f"boundary-nlp: {how}; nothing was written ({', '.join(outputs)} left as it was)"
    print(message, file=sys.stderr)
    return 128 + error.signum if isinstance(error, Terminated) else 130


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_raises():
            return _COMMANDS[args.command](args)
    except _UsageError as error:
        parser.error(str(error))
    except BrokenPipeError:
        return 0
    except (BoundaryNLPError, SameFileError, ValueError, OSError) as error:
        # every expected failure is one line and exit 2; OSError covers unwritable folders,
        # missing files and a full disk
        print(f"boundary-nlp: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:
        return _interrupted(args, error)
    return 0


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    else:
        text = str(error)
    return " ".join(text.split())


if __name__ == "__main__":
    raise SystemExit(main())
