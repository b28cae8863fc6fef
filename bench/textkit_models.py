"""Benchmark of textkit's models: sentiment/emotion (vs SnowNLP) and near-duplicate voices.

    .venv/bin/python bench/textkit_models.py [--quick]

Imported by bench/textkit.py (``measure(data_dir, quick)``); run alone it prints ``RESULT {json}``.

- Accuracy: the SMP2020-EWECT eval splits, scored exactly as
  ``python -m guanwei.textkit.sentiment evaluate`` scores them.
- SnowNLP on the same "usual" eval texts: score > 0.6 positive, < 0.4 negative, else neutral.
  ``--quick`` scores SnowNLP on a fixed sample of 400 of them (every 5th) and says so.
- Throughput is CPU time on one core (``time.process_time``), model already loaded:
  ``classify`` in one call over non-empty CED texts (20,000 with ``--quick``, else 200,000),
  ``fingerprint`` over CED texts as they come, empty ones included (100,000 with ``--quick``,
  else all ~1.27M), SnowNLP over its sample.
- Voices: ``group_voices`` on the evaluation set of ``guanwei.textkit.voices`` (first 300 cascades
  with ``--quick``, else all 3,387), pair precision and recall.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import pathlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from guanwei.textkit import fingerprint as fp  # noqa: E402
from guanwei.textkit import sentiment, voices  # noqa: E402


def _cpu(fn: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        fn()
        return time.process_time() - t0
    finally:
        gc.enable()


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def _ced_texts(path: pathlib.Path, limit: int | None, non_empty: bool) -> list[str]:
    out: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            cascade = json.loads(line)
            for text in _texts(cascade):
                if non_empty and not text:
                    continue
                out.append(text)
                if limit is not None and len(out) >= limit:
                    return out
    return out


def _texts(cascade: dict[str, Any]) -> Iterator[str]:
    yield cascade["source"]["text"]
    for repost in cascade["reposts"]:
        yield repost["text"]


def _read_eval(path: pathlib.Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts.append(row["text"])
            labels.append(row["label"])
    return texts, labels


def snownlp_sentiment(texts: list[str]) -> list[str]:
    from snownlp import SnowNLP

    out = []
    for text in texts:
        score = SnowNLP(text).sentiments if text.strip() else 0.5
        out.append("positive" if score > 0.6 else "negative" if score < 0.4 else "neutral")
    return out


def _acc3(labels: list[str], predicted: list[str]) -> float:
    pairs = [
        (sentiment.to_sentiment(label), p)
        for label, p in zip(labels, predicted, strict=True)
        if sentiment.to_sentiment(label) is not None
    ]
    return round(sum(1 for t, p in pairs if t == p) / len(pairs), 4)


def measure(data_dir: pathlib.Path, quick: bool) -> dict[str, Any]:
    smp = data_dir / "smp2020_ewect"
    ced = data_dir / "ced" / "cascades.jsonl.gz"
    result: dict[str, Any] = {}

    usual_texts, usual_labels = _read_eval(smp / "usual_eval.jsonl.gz")
    virus_texts, virus_labels = _read_eval(smp / "virus_eval.jsonl.gz")
    usual = sentiment.evaluate(usual_texts, usual_labels)
    virus = sentiment.evaluate(virus_texts, virus_labels)
    result["acc3_usual"] = usual["acc3"]
    result["acc3_virus"] = virus["acc3"]
    result["macro_f1_6_usual"] = usual["macro_f1_6"]
    result["macro_f1_6_virus"] = virus["macro_f1_6"]
    result["macro_f1_3_usual"] = usual["macro_f1_3"]

    texts = _ced_texts(ced, 20_000 if quick else 200_000, non_empty=True)
    sentiment.classify(texts[:100])  # load the model outside the timing
    seconds = _cpu(lambda: sentiment.classify(texts))
    result["sentiment_texts_per_s"] = _rate(len(texts), seconds)
    result["sentiment_texts"] = len(texts)

    step = 5 if quick else 1
    sample_texts = usual_texts[::step]
    sample_labels = usual_labels[::step]
    snow: list[str] = []
    seconds = _cpu(lambda: snow.extend(snownlp_sentiment(sample_texts)))
    result["snownlp_texts_per_s"] = _rate(len(sample_texts), seconds)
    result["snownlp_acc3_usual"] = _acc3(sample_labels, snow)
    ours = sentiment.classify(sample_texts)
    result["acc3_usual_on_snownlp_sample"] = _acc3(sample_labels, ours)
    result["snownlp_sample"] = len(sample_texts)

    all_texts = _ced_texts(ced, 100_000 if quick else None, non_empty=False)
    fp.fingerprint(all_texts[:100])
    seconds = _cpu(lambda: fp.fingerprint(all_texts))
    result["fingerprint_texts_per_s"] = _rate(len(all_texts), seconds)
    seconds = _cpu(lambda: fp.group_voices(all_texts))
    result["group_voices_texts_per_s"] = _rate(len(all_texts), seconds)
    result["fingerprint_texts"] = len(all_texts)

    voice_set = voices.build(ced, 300 if quick else None)
    scores = voices.evaluate(voice_set)
    result["fingerprint_precision"] = scores["precision"]
    result["fingerprint_recall"] = scores["recall"]
    result["fingerprint_eval_texts"] = scores["texts"]
    result["fingerprint_eval_voices"] = scores["voices"]
    result["fingerprint_recall_edited"] = scores["recall_edited"]
    return result


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    env = os.environ.get("GUANWEI_DATA_DIR")
    root = pathlib.Path(env) if env else REPO.parent / "shared" / "data"
    t0 = time.perf_counter()
    result = measure(root, quick)
    print(f"measured in {time.perf_counter() - t0:.1f} s (quick={quick})")
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
