"""DataFrame scoring (``boundary_nlp.frame``) and Dask on a local distributed cluster."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from boundary_nlp.frame import score_frame, score_frames  # noqa: E402


def _expected(model, texts):
    return model.predict_proba(texts)


def test_score_frame_adds_the_prediction_columns_equal_to_predict_proba(default_model, dev_rows):
    texts = [row["text"] for row in dev_rows[:400]]
    frame = pd.DataFrame({"id": range(len(texts)), "text": texts}, index=range(100, 100 + len(texts)))
    out = score_frame(frame, default_model)
    labels = list(default_model.classes_)
    assert list(out.columns) == [
        "id",
        "text",
        "label",
        "label_zh",
        "confidence",
        "uncertain",
        "reason",
        *(f"p_{label}" for label in labels),
        "error",
    ]
    assert out.index.equals(frame.index) and list(out["id"]) == list(range(len(texts)))
    proba = out[[f"p_{label}" for label in labels]].to_numpy()
    assert np.array_equal(proba, _expected(default_model, texts))
    predictions = default_model.classify(texts, evidence_terms=0)
    assert list(out["label"]) == [p.label for p in predictions]
    assert list(out["label_zh"]) == [p.label_zh for p in predictions]
    assert list(out["uncertain"]) == [p.uncertain for p in predictions]
    assert list(out["reason"]) == [p.reason or "" for p in predictions]
    assert np.array_equal(out["confidence"].to_numpy(), proba.max(axis=1))
    assert set(out["error"]) == {""}


def test_score_frame_marks_unusable_rows_like_file_scoring(default_model):
    frame = pd.DataFrame(
        {"text": ["帮我取个快递", None, "", 3.5, "改\ud800报告", "   "], "label": list("abcdef")}
    )
    out = score_frame(frame, default_model)
    # a gold "label" column is kept: the added columns get a pred_ prefix
    assert list(out["label"]) == list("abcdef")
    assert out["pred_error"].tolist()[0] == ""
    assert all(out["pred_error"].tolist()[1:])
    assert out["pred_label"].tolist()[1:] == [""] * 5
    assert out["pred_confidence"].isna().tolist() == [False] + [True] * 5
    assert out["pred_uncertain"].isna().tolist() == [False] + [True] * 5
    missing = score_frame(pd.DataFrame({"text": [np.nan, pd.NA, None]}), default_model)
    assert missing["error"].tolist() == ["no text in column 'text'"] * 3


def test_score_frame_of_an_empty_frame_is_dask_meta_with_the_same_columns(default_model):
    meta = score_frame(pd.DataFrame({"text": pd.Series([], dtype=object)}), default_model)
    full = score_frame(pd.DataFrame({"text": ["帮我取个快递"]}), default_model)
    assert list(meta.columns) == list(full.columns)
    added = [column for column in full.columns if column != "text"]
    assert list(meta[added].dtypes) == list(full[added].dtypes)


def test_score_frames_is_a_generator_over_batches_for_spark(default_model, dev_rows):
    texts = [row["text"] for row in dev_rows[:90]]
    batches = [pd.DataFrame({"text": texts[i : i + 30]}) for i in range(0, 90, 30)]
    out = pd.concat(list(score_frames(iter(batches), default_model)), ignore_index=True)
    assert np.array_equal(
        out[[f"p_{c}" for c in default_model.classes_]].to_numpy(), _expected(default_model, texts)
    )


DASK_RUN = r"""
import json, sys
import dask.dataframe as dd
from distributed import Client, LocalCluster
from boundary_nlp.frame import score_frame

path, out = sys.argv[1], sys.argv[2]
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
    with Client(cluster) as client:
        ddf = dd.read_csv(path, blocksize=64_000, dtype={"id": "int64", "text": "object"})
        scored = ddf.map_partitions(score_frame, meta=score_frame(ddf._meta))
        result = scored.compute()
        workers = client.run(lambda: __import__("os").getpid())
        info = {"partitions": ddf.npartitions, "workers": len(set(workers.values()))}
        json.dump(info, open(out + ".json", "w"))
result.to_pickle(out)
"""


def test_dask_local_cluster_scores_every_row_once_equal_to_one_process(
    default_model, all_dataset_texts, tmp_path
):
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    import json

    texts = all_dataset_texts[:3000]
    path = tmp_path / "archive.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerows(enumerate(texts))
    out = tmp_path / "scored.pkl"
    result = subprocess.run(
        [sys.executable, "-c", DASK_RUN, str(path), str(out)], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "scored.pkl.json").read_text())
    assert info["partitions"] >= 2 and info["workers"] == 2
    scored = pd.read_pickle(out)
    assert sorted(scored["id"].tolist()) == list(range(len(texts)))  # every row exactly once
    scored = scored.sort_values("id")
    assert scored["text"].tolist() == texts
    labels = list(default_model.classes_)
    single = score_frame(pd.DataFrame({"id": range(len(texts)), "text": texts}), default_model)
    assert np.array_equal(
        scored[[f"p_{c}" for c in labels]].to_numpy(), single[[f"p_{c}" for c in labels]].to_numpy()
    )
    assert scored["label"].tolist() == single["label"].tolist()
    assert scored["reason"].tolist() == single["reason"].tolist()


def _ddl_names(ddl: str) -> list[str]:
    return [part.split("` ")[0].strip(" `") for part in ddl.split(", ")]


def test_prediction_schema_names_the_columns_score_frame_adds(default_model):
    from boundary_nlp.frame import prediction_schema

    for columns in (["id", "text"], ["id", "text", "label"]):
        frame = pd.DataFrame({column: ["帮我取个快递"] for column in columns})
        added = [column for column in score_frame(frame, default_model).columns if column not in columns]
        ddl = prediction_schema(columns, default_model)
        assert _ddl_names(ddl) == added
        kinds = dict(zip(added, (part.rsplit(" ", 1)[1] for part in ddl.split(", "))))
        assert kinds[added[0]] == "string" and kinds[added[2]] == "double" and kinds[added[3]] == "boolean"
        assert all(kinds[name] == "double" for name in added if "p_" in name)
    assert prediction_schema(["text", "label"], default_model).startswith("`pred_label` string")


def test_spark_schema_keeps_the_input_fields_then_the_predictions(default_model):
    from types import SimpleNamespace

    from boundary_nlp.frame import prediction_schema, spark_schema

    def field(name, kind):
        return SimpleNamespace(name=name, dataType=SimpleNamespace(simpleString=lambda: kind))

    schema = SimpleNamespace(fields=[field("id", "bigint"), field("a`b", "string"), field("text", "string")])
    ddl = spark_schema(schema, default_model)
    assert ddl.startswith("`id` bigint, `a``b` string, `text` string, ")
    assert ddl.endswith(prediction_schema(["id", "a`b", "text"], default_model))


SPARK_RUN = r"""
import sys
from pyspark.sql import SparkSession
from boundary_nlp.frame import score_frames, spark_schema

path, out = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
df = spark.read.csv(path, header=True, multiLine=True, escape='"').repartition(3)
df.mapInPandas(score_frames, schema=spark_schema(df.schema)).write.parquet(out)
spark.stop()
"""


def test_spark_map_in_pandas_scores_every_row_once_equal_to_one_process(
    default_model, all_dataset_texts, tmp_path
):
    """The README's Spark recipe on a local Spark (2 cores, 3 partitions), with a gold
    ``label`` column in the input (the added columns then take the ``pred_`` prefix)."""
    pytest.importorskip("pyspark")
    pytest.importorskip("pyarrow")
    texts = all_dataset_texts[:1500] + ["", "   "]  # Spark reads the empty field as null
    path = tmp_path / "archive.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label"])
        writer.writerows((i, text, "gold") for i, text in enumerate(texts))
    out = tmp_path / "scored"
    result = subprocess.run(
        [sys.executable, "-c", SPARK_RUN, str(path), str(out)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scored = pd.read_parquet(out)
    scored["id"] = scored["id"].astype(int)
    scored = scored.sort_values("id").reset_index(drop=True)
    assert scored["id"].tolist() == list(range(len(texts)))  # every row exactly once
    assert set(scored["label"]) == {"gold"}  # the gold column is kept
    frame = pd.DataFrame({"id": range(len(texts)), "text": [t or None for t in texts], "label": "gold"})
    expected = score_frame(frame, default_model)
    for column in ("pred_label", "pred_reason", "pred_error"):
        assert scored[column].fillna("").tolist() == expected[column].tolist(), column
    labels = [f"pred_p_{c}" for c in default_model.classes_]
    assert np.allclose(scored[labels].to_numpy(), expected[labels].to_numpy(), equal_nan=True, rtol=0, atol=0)
