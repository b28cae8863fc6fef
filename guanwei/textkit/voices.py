"""The evaluation set for near-duplicate voices, built deterministically from the CED cascades.

    python -m guanwei.textkit.voices [--data DIR] [--cascades N]

prints ``{"texts", "voices", "precision", "recall", ...}`` of ``fingerprint.group_voices`` on it.

How the set is built (seed ``SEED``; the same data gives the same set):

1. *Bases.*  From each cascade (source post and its reposts, in file order) take texts without a
   ``//@`` repost chain, remove URLs and ``@mentions``; keep those whose voice text has at least
   ``MIN_BASE_CHARS`` characters not counting ``[emoticon]`` codes (whether two bare reactions
   like "[吃惊][吃惊][衰]" and "[吃惊][吃惊]" are one voice is not well defined).  Within a cascade a candidate becomes a base only if its
   character-bigram Jaccard similarity (computed exactly, with sets) to every base already taken
   from that cascade is below ``MAX_BASE_JACCARD``, so bases of one cascade are *distinct posts on
   the same topic* — the hard negatives; at most ``BASES_PER_CASCADE`` per cascade.  A voice text
   already taken in another cascade is skipped, and so is a base with Jaccard ≥ MAX_BASE_JACCARD
   to a base of an earlier cascade (the same rumour recurs, lightly edited, across cascades).
   Pairs with 0.3 ≤ J < 0.5 are thus not in the set: they are neither clear copies nor clearly
   different posts.
2. *Voice of a base* (all one true voice): the base itself, a true copy, a repost that only adds
   "转发微博" (``转发微博//@name:base``), the base with different ``@mentions`` and a URL, and
   ``EDITED_COPIES`` copies in which a random 1–10 % of the characters (at least one) are edited —
   each edit substitutes, inserts or deletes one character, new characters drawn from the
   characters of all bases.
3. Precision and recall are over pairs of texts: a pair is "same voice" in truth when both come
   from one base, and predicted when ``group_voices`` gives them one id.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guanwei.textkit.fingerprint import _signature_matrix, group_voices, voice_text

SEED = 20240501
MIN_BASE_CHARS = 10
MAX_BASE_JACCARD = 0.3
BASES_PER_CASCADE = 6
EDITED_COPIES = 4

_URL = re.compile(r"https?://\S+|\bt\.cn/\w+", re.IGNORECASE)
_MENTION = re.compile(r"@[\w\-]{1,30}")
_EMOTICON = re.compile(r"\[[^\[\]]{1,10}\]")


@dataclass(frozen=True)
class VoiceSet:
    texts: list[str]
    truth: list[int]  # base index (= true voice) of every text
    kinds: list[str]  # base, copy, repost, mentions, edited
    cascades: int


def data_dir(given: Path | None = None) -> Path | None:
    if given is not None:
        return given
    env = os.environ.get("GUANWEI_DATA_DIR")
    return Path(env) if env else None


def _cascades(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def jaccard(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x or y else 1.0


def _edit(text: str, rng: random.Random, alphabet: Sequence[str]) -> str:
    chars = list(text)
    count = max(1, round(len(chars) * rng.uniform(0.01, 0.10)))
    for _ in range(count):
        op = rng.choice(("substitute", "insert", "delete")) if len(chars) > 1 else "insert"
        pos = rng.randrange(len(chars))
        if op == "substitute":
            chars[pos] = rng.choice(alphabet)
        elif op == "insert":
            chars.insert(pos, rng.choice(alphabet))
        else:
            del chars[pos]
    return "".join(chars)


def _name(rng: random.Random) -> str:
    return "".join(
        rng.choice("用户小王李张晓明abcxyz0123456789_") for _ in range(rng.randint(3, 9))
    )


def _short_code(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGH0123456789") for _ in range(7))


def _cross_cascade_clashes(voices: list[str], cascade_of: list[int]) -> set[int]:
    """Bases to drop because a base of an earlier cascade has bigram Jaccard ≥ MAX_BASE_JACCARD.

    Candidates come from all pairs inside MinHash LSH buckets (32 bands of 2 rows: a pair with
    J = 0.3 becomes a candidate with probability 0.95, J = 0.4 with 0.995); every candidate is
    then checked exactly.
    """
    sig = _signature_matrix(voices)
    buckets: dict[tuple[int, int, int], list[int]] = {}
    for band in range(32):
        for i, row in enumerate(sig[:, 2 * band : 2 * band + 2].tolist()):
            buckets.setdefault((band, row[0], row[1]), []).append(i)
    clash: set[int] = set()
    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if cascade_of[i] == cascade_of[j] or (i, j) in checked:
                    continue
                checked.add((i, j))
                if i not in clash and jaccard(voices[i], voices[j]) >= MAX_BASE_JACCARD:
                    clash.add(j)
    return clash


def build(path: Path, cascades: int | None = None) -> VoiceSet:
    rng = random.Random(SEED)
    candidates: list[str] = []
    candidate_voices: list[str] = []
    cascade_of: list[int] = []
    taken: set[str] = set()
    used = 0
    for cascade in _cascades(path):
        if cascades is not None and used >= cascades:
            break
        used += 1
        chosen: list[str] = []  # voice texts of this cascade's bases
        records = [cascade["source"]["text"]] + [r["text"] for r in cascade["reposts"]]
        for raw in records:
            if len(chosen) >= BASES_PER_CASCADE:
                break
            if not raw or "//" in raw:
                continue
            clean = " ".join(_MENTION.sub(" ", _URL.sub(" ", raw)).split())
            voice = voice_text(clean)
            if len(voice_text(_EMOTICON.sub(" ", clean))) < MIN_BASE_CHARS or voice in taken:
                continue
            if any(jaccard(voice, other) >= MAX_BASE_JACCARD for other in chosen):
                continue
            chosen.append(voice)
            taken.add(voice)
            candidates.append(clean)
            candidate_voices.append(voice)
            cascade_of.append(used)
    clash = _cross_cascade_clashes(candidate_voices, cascade_of)
    bases = [b for i, b in enumerate(candidates) if i not in clash]
    alphabet = sorted(Counter(c for b in bases for c in b if not c.isspace()))
    texts: list[str] = []
    truth: list[int] = []
    kinds: list[str] = []
    for i, base in enumerate(bases):
        variants = [
            ("base", base),
            ("copy", base),
            ("repost", f"转发微博//@{_name(rng)}:{base}"),
            ("mentions", f"@{_name(rng)} {base} @{_name(rng)} http://t.cn/{_short_code(rng)}"),
        ] + [("edited", _edit(base, rng, alphabet)) for _ in range(EDITED_COPIES)]
        for kind, text in variants:
            texts.append(text)
            truth.append(i)
            kinds.append(kind)
    return VoiceSet(texts=texts, truth=truth, kinds=kinds, cascades=used)


def _pairs(counts: Counter[Any]) -> int:
    return sum(c * (c - 1) // 2 for c in counts.values())


def pair_scores(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, float | int]:
    """Precision and recall of "same voice" over all pairs of texts."""
    both = _pairs(Counter(zip(truth, predicted, strict=True)))
    true_pairs = _pairs(Counter(truth))
    predicted_pairs = _pairs(Counter(predicted))
    return {
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "precision": round(both / predicted_pairs, 5) if predicted_pairs else 1.0,
        "recall": round(both / true_pairs, 5) if true_pairs else 1.0,
    }


def evaluate(voice_set: VoiceSet) -> dict[str, Any]:
    started = time.perf_counter()
    predicted = group_voices(voice_set.texts)
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {
        "texts": len(voice_set.texts),
        "voices": len(set(voice_set.truth)),
        "cascades": voice_set.cascades,
        **pair_scores(voice_set.truth, predicted),
        "group_texts_per_s": round(len(voice_set.texts) / elapsed) if elapsed > 0 else 0,
    }
    # Recall per kind of variant: share of variants grouped with their base.
    base_voice = {
        t: p
        for t, p, k in zip(voice_set.truth, predicted, voice_set.kinds, strict=True)
        if k == "base"
    }
    for kind in ("copy", "repost", "mentions", "edited"):
        hits = [
            p == base_voice[t]
            for t, p, k in zip(voice_set.truth, predicted, voice_set.kinds, strict=True)
            if k == kind
        ]
        result[f"recall_{kind}"] = round(sum(hits) / len(hits), 4) if hits else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate group_voices on the CED voice set.")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--cascades", type=int, default=None, help="use only the first N")
    args = parser.parse_args()
    root = data_dir(args.data)
    if root is None:
        parser.error("give --data or set GUANWEI_DATA_DIR")
    voice_set = build(root / "ced" / "cascades.jsonl.gz", args.cascades)
    print(json.dumps(evaluate(voice_set), ensure_ascii=False))


if __name__ == "__main__":
    main()
