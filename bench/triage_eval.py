"""Evaluate inbox triage (`guanwei.textkit.triage.categorize`) on the hand-labelled Weibo set.

    .venv/bin/python bench/triage_eval.py [--show-errors dev]

`bench/data/triage_labels.jsonl` holds only references and labels — one line per item:
``{"file": <path under the data dir>, "key": {...}, "category": ..., "split": "dev"|"test"}`` —
never the text, which is read from `$GUANWEI_DATA_DIR` (default /work/shared/data). A key always
has ``line`` (0-based line of the gzip JSON Lines file) and a check that the line is the one
labelled: ``id`` (SMP2020-EWECT, COVID events), ``md5`` (first 12 hex digits of the md5 of the text,
weibo_senti_100k) or ``cascade`` + ``mid`` (CED: the source post when mid == cascade, else the
repost/comment with that mid). See docs/triage.md for how the set was built.

Each text goes through `guanwei.textkit.sentiment.classify` (batch) and then `categorize(text,
sentiment=...)`. Prints per-category precision/recall/F1/support for dev and test, the test
confusion matrix, and last a line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import pathlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from guanwei.textkit import sentiment  # noqa: E402
from guanwei.textkit.triage import CATEGORIES, categorize  # noqa: E402

LABELS = REPO / "bench" / "data" / "triage_labels.jsonl"
DEFAULT_DATA_DIR = "/work/shared/data"


class LabelError(Exception):
    """A label line whose key does not resolve to a text (moved data, edited file)."""


def data_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("GUANWEI_DATA_DIR") or DEFAULT_DATA_DIR)


def read_labels(path: pathlib.Path = LABELS) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _text_of(record: dict[str, Any], file: str, key: dict[str, Any]) -> str:
    if file.startswith("ced/"):
        if record["id"] != key["cascade"]:
            raise LabelError(f"{file} line {key['line']}: cascade {record['id']} != {key}")
        if key["mid"] == record["id"]:
            return str(record["source"]["text"] or "")
        for repost in record["reposts"]:
            if repost["mid"] == key["mid"]:
                return str(repost["text"])
        raise LabelError(f"{file} line {key['line']}: no repost {key['mid']}")
    text = str(record.get("text") or "")
    if "md5" in key:
        if hashlib.md5(text.encode()).hexdigest()[:12] != key["md5"]:
            raise LabelError(f"{file} line {key['line']}: md5 differs")
    elif record.get("id") != key["id"]:
        raise LabelError(f"{file} line {key['line']}: id {record.get('id')} != {key['id']}")
    return text


def resolve(labels: Sequence[dict[str, Any]], root: pathlib.Path) -> list[str]:
    """The text of every label, in order; each file is read once, only wanted lines parsed."""
    wanted: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for n, item in enumerate(labels):
        wanted[item["file"]][int(item["key"]["line"])].append(n)
    texts: list[str | None] = [None] * len(labels)
    for file, lines in wanted.items():
        last = max(lines)
        with gzip.open(root / file, "rt", encoding="utf-8") as f:
            for number, line in enumerate(f):
                if number in lines:
                    record = json.loads(line)
                    for n in lines[number]:
                        texts[n] = _text_of(record, file, labels[n]["key"])
                if number >= last:
                    break
    missing = [labels[n] for n, t in enumerate(texts) if t is None]
    if missing:
        raise LabelError(f"{len(missing)} keys not found, first: {missing[0]}")
    return [t for t in texts if t is not None]


def scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for cat in CATEGORIES:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p == cat)
        n_pred = sum(1 for p in predicted if p == cat)
        n_true = sum(1 for t in truth if t == cat)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[cat] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "support": n_true,
        }
    return out


def macro_f1(per_category: dict[str, dict[str, float]]) -> float:
    return round(sum(v["f1"] for v in per_category.values()) / len(per_category), 3)


def evaluate(root: pathlib.Path) -> dict[str, Any]:
    """Everything the report prints, computed; also used by tests/textkit/test_triage.py."""
    labels = read_labels()
    texts = resolve(labels, root)
    moods = sentiment.classify(texts)
    predicted = [categorize(t, sentiment=m)[0] for t, m in zip(texts, moods, strict=True)]
    result: dict[str, Any] = {"items": len(labels), "labels": labels, "texts": texts}
    result["predicted"] = predicted
    result["sentiments"] = moods
    for split in ("dev", "test"):
        idx = [n for n, item in enumerate(labels) if item["split"] == split]
        per = scores([labels[n]["category"] for n in idx], [predicted[n] for n in idx])
        result[split] = {"items": len(idx), "per_category": per, "macro_f1": macro_f1(per)}
    return result


def _print_table(name: str, part: dict[str, Any]) -> None:
    print(f"\n## {name} ({part['items']} items) — macro-F1 {part['macro_f1']:.3f}")
    print(f"{'category':<11} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for cat, v in part["per_category"].items():
        print(
            f"{cat:<11} {v['precision']:>9.3f} {v['recall']:>7.3f} {v['f1']:>6.3f} "
            f"{v['support']:>7}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show-errors", choices=("dev", "test"), help="print misclassified")
    args = parser.parse_args(argv)
    root = data_dir()
    if not root.is_dir():
        print(f"no data directory at {root}; set GUANWEI_DATA_DIR to the shared data folder")
        return 2
    result = evaluate(root)
    labels, predicted = result["labels"], result["predicted"]
    for split in ("dev", "test"):
        _print_table(split, result[split])
    print("\n## test confusion matrix (rows: label, columns: predicted)")
    print(" " * 11 + "".join(f"{c[:6]:>7}" for c in CATEGORIES))
    for truth in CATEGORIES:
        row = [
            sum(
                1
                for item, p in zip(labels, predicted, strict=True)
                if item["split"] == "test" and item["category"] == truth and p == cat
            )
            for cat in CATEGORIES
        ]
        print(f"{truth:<11}" + "".join(f"{n:>7}" for n in row))
    if args.show_errors:
        print(f"\n## {args.show_errors} errors (label -> predicted)")
        rows = zip(labels, result["texts"], result["sentiments"], predicted, strict=True)
        for item, text, mood, p in rows:
            if item["split"] == args.show_errors and item["category"] != p:
                reasons = ",".join(categorize(text, sentiment=mood)[1])
                print(f"{item['category']:>10} -> {p:<10} {reasons[:60]:<60} {text[:90]!r}")
    summary = {
        "items": result["items"],
        "dev_items": result["dev"]["items"],
        "test_items": result["test"]["items"],
        "macro_f1_dev": result["dev"]["macro_f1"],
        "macro_f1_test": result["test"]["macro_f1"],
        "per_category_test": result["test"]["per_category"],
        "per_category_dev": result["dev"]["per_category"],
    }
    print("RESULT " + json.dumps(summary, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
