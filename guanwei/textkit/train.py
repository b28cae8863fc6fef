"""Train the sentiment/emotion model shipped in ``guanwei/textkit/models/sentiment.npz``.

    python -m guanwei.textkit.train --data ../shared/data [--out PATH]

Needs scikit-learn and scipy (dev dependencies); the artifact it writes needs only numpy.

1. Emotion: multinomial logistic regression (SGD, log loss) over hashed character 1–3-grams of
   SMP2020-EWECT ``usual_train`` + ``virus_train``, balanced class weights.
2. Binary sentiment: the same kind of model on weibo_senti_100k with its emoticon codes
   (``[哈哈]``) and emoji removed first — its labels were derived from them.
3. Sentiment (3 classes): a small logistic regression over the 6 emotion logits and the binary
   logit, fitted on 5-fold out-of-fold emotion logits of the SMP training texts — so it is
   calibrated on scores the emotion model produces for texts it did not see.

Training texts that also occur (after folding) in an eval split are dropped, and so are repeated
training texts.  Eval splits are never read for anything else; all choices come from
cross-validation on the training data, whose figures this script prints.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from guanwei.textkit.sentiment import (
    EMOTIONS,
    FORMAT_VERSION,
    MODEL_PATH,
    SENTIMENTS,
    hashed_ngrams,
    prepare,
    to_sentiment,
)

BITS = 18  # 2^18 buckets: 5-fold CV on train equal to 2^20 and 2^22 (±0.004 macro-F1), 4x smaller
EMOTION_ALPHA = 1e-5  # chosen by 5-fold CV on the training texts (2e-5, 5e-5, 1e-4 were worse)
BINARY_ALPHA = 1e-5
EPOCHS = 30
SEED = 0

EMOTICON_CODE = re.compile(r"\[[^\[\]\s]{1,10}\]")
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0f\u200d\u20e3]"
)


def strip_emoticons(text: str) -> str:
    """weibo_senti_100k text without ``[哈哈]``-style emoticon codes and emoji."""
    return EMOJI.sub("", EMOTICON_CODE.sub("", text))


def _read(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _matrix(prepared: list[str]) -> Any:
    import scipy.sparse as sp

    feats = hashed_ngrams(prepared, BITS)
    value = 1.0 / np.sqrt(np.maximum(feats.per_text, 1))[feats.doc]
    x = sp.csr_matrix(
        (value.astype(np.float64), (feats.doc, feats.bucket)), shape=(len(prepared), 1 << BITS)
    )
    x.sum_duplicates()
    return x


def _sgd(alpha: float, balanced: bool) -> Any:
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(
        loss="log_loss",
        alpha=alpha,
        max_iter=EPOCHS,
        tol=None,
        random_state=SEED,
        class_weight="balanced" if balanced else None,
    )


def load_training(data: Path) -> dict[str, Any]:
    smp = data / "smp2020_ewect"
    held_out = {
        prepare(row["text"])
        for name in ("usual_eval", "virus_eval")
        for row in _read(smp / f"{name}.jsonl.gz")
    }
    texts: list[str] = []
    labels: list[int] = []
    domains: list[int] = []
    seen: set[str] = set()
    dropped = {"eval_overlap": 0, "repeat": 0, "empty": 0}
    for domain, name in enumerate(("usual_train", "virus_train")):
        for row in _read(smp / f"{name}.jsonl.gz"):
            text = prepare(row["text"])
            reason = (
                "empty"
                if not text
                else "eval_overlap"
                if text in held_out
                else "repeat"
                if text in seen
                else None
            )
            if reason:
                dropped[reason] += 1
                continue
            seen.add(text)
            texts.append(text)
            labels.append(EMOTIONS.index(row["label"]))
            domains.append(domain)
    senti_texts: list[str] = []
    senti_labels: list[int] = []
    senti_seen: set[str] = set()
    senti_dropped = {"eval_overlap": 0, "repeat": 0, "empty": 0}
    for row in _read(data / "weibo_senti_100k" / "weibo_senti_100k.jsonl.gz"):
        text = prepare(strip_emoticons(row["text"]))
        reason = (
            "empty"
            if len(text) < 2
            else "eval_overlap"
            if text in held_out
            else "repeat"
            if text in senti_seen
            else None
        )
        if reason:
            senti_dropped[reason] += 1
            continue
        senti_seen.add(text)
        senti_texts.append(text)
        senti_labels.append(int(row["label"]))
    return {
        "texts": texts,
        "labels": np.array(labels),
        "domains": np.array(domains),
        "dropped": dropped,
        "senti_texts": senti_texts,
        "senti_labels": np.array(senti_labels),
        "senti_dropped": senti_dropped,
    }


def _macro_f1(truth: npt.NDArray[Any], predicted: npt.NDArray[Any], classes: int) -> float:
    scores = []
    for c in range(classes):
        tp = int(((truth == c) & (predicted == c)).sum())
        fp = int(((truth != c) & (predicted == c)).sum())
        fn = int(((truth == c) & (predicted != c)).sum())
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def train(data: Path, out: Path) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    started = time.time()
    d = load_training(data)
    y, domains = d["labels"], d["domains"]
    x = _matrix(d["texts"])
    xs = _matrix(d["senti_texts"])

    binary = _sgd(BINARY_ALPHA, balanced=False).fit(xs, d["senti_labels"])
    binary_logit = binary.decision_function(x)

    # Out-of-fold emotion logits: the CV estimate, and the inputs of the sentiment stacker.
    oof = np.zeros((len(y), len(EMOTIONS)))
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    for train_idx, test_idx in folds.split(x, y * 2 + domains):
        fold_model = _sgd(EMOTION_ALPHA, balanced=True).fit(x[train_idx], y[train_idx])
        oof[test_idx] = fold_model.decision_function(x[test_idx])
    emotion = _sgd(EMOTION_ALPHA, balanced=True).fit(x, y)

    sentiment_of = np.array([SENTIMENTS.index(s) if s else -1 for s in map(to_sentiment, EMOTIONS)])
    y3 = sentiment_of[y]
    has3 = y3 >= 0
    stack_in = np.c_[oof, binary_logit]
    stacker = LogisticRegression(C=1.0, max_iter=2000)
    # CV of the stacker itself (on out-of-fold logits), then the final fit on all of them.
    pred3 = np.zeros(len(y), dtype=int)
    for train_idx, test_idx in folds.split(stack_in, y * 2 + domains):
        keep = train_idx[has3[train_idx]]
        pred3[test_idx] = (
            LogisticRegression(C=1.0, max_iter=2000)
            .fit(stack_in[keep], y3[keep])
            .predict(stack_in[test_idx])
        )
    stacker.fit(stack_in[has3], y3[has3])
    stack_coef = np.zeros((len(SENTIMENTS), stack_in.shape[1]), dtype=np.float32)
    stack_bias = np.zeros(len(SENTIMENTS), dtype=np.float32)
    for row, cls in enumerate(stacker.classes_):
        stack_coef[cls] = stacker.coef_[row]
        stack_bias[cls] = stacker.intercept_[row]

    cv: dict[str, float] = {}
    pred6 = oof.argmax(axis=1)
    for domain, name in enumerate(("usual", "virus")):
        s = domains == domain
        cv[f"macro_f1_6_{name}"] = round(_macro_f1(y[s], pred6[s], len(EMOTIONS)), 4)
        s3 = s & has3
        cv[f"acc3_{name}"] = round(float((pred3[s3] == y3[s3]).mean()), 4)
        cv[f"macro_f1_3_{name}"] = round(_macro_f1(y3[s3], pred3[s3], len(SENTIMENTS)), 4)

    weights = np.c_[emotion.coef_.T, binary.coef_.T].astype(np.float16)
    bias = np.r_[emotion.intercept_, binary.intercept_].astype(np.float32)
    assert list(emotion.classes_) == list(range(len(EMOTIONS)))
    trained_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        format_version=np.int64(FORMAT_VERSION),
        bits=np.int64(BITS),
        weights=weights,
        bias=bias,
        stack_coef=stack_coef,
        stack_bias=stack_bias,
        emotions=np.array(EMOTIONS),
        sentiments=np.array(SENTIMENTS),
        trained_at=np.array(trained_at),
    )
    return {
        "trained_at": trained_at,
        "smp_train_texts": len(y),
        "smp_dropped": d["dropped"],
        "senti_100k_texts": len(d["senti_texts"]),
        "senti_100k_dropped": d["senti_dropped"],
        "cv_5fold_train": cv,
        "artifact_bytes": out.stat().st_size,
        "seconds": round(time.time() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data directory")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    print(json.dumps(train(args.data, args.out), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
