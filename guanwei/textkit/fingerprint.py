"""Near-duplicate voices (声量去重): fingerprints and grouping of reposts and copy-paste armies.

A post's *voice text* is its folded text (``normalize.fold``) without URLs, ``@mentions``, the
``//@user:`` repost chain, repost boilerplate ("转发微博", "Repost") and every character that is
not a letter or digit (punctuation, emoji, spaces).  A pure repost — nothing left of its own —
speaks with the voice of the nearest non-empty comment in its chain, so "转发微博//@甲:这款手机真差"
is the voice of "这款手机真差".

Texts of at least ``MIN_SHINGLED_CHARS`` voice characters are compared by MinHash over character
bigrams: ``SIGNATURE_SIZE`` min-hashes per text, banded LSH (``BANDS`` × ``ROWS``) proposes
candidate pairs — each member of an LSH bucket is paired with the bucket's first member only, so
the work is linear in the number of texts, never quadratic — and a candidate pair is the same
voice when at least ``SAME_VOICE_AGREEMENT`` of the two signatures agree (an estimate of the
Jaccard similarity of the bigram sets).  Shorter texts ("[蜡烛]", "顶", "支持!") have too few bigrams
for a similarity to mean anything: they are the same voice only when their voice texts are equal.
Texts with an empty voice text (e.g. a bare "转发微博") are each a voice of their own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from guanwei.textkit._ngrams import Batch, mix64, ngram_keys, to_batch
from guanwei.textkit.normalize import fold

__all__ = [
    "BANDS",
    "MAX_VOICE_CHARS",
    "MIN_SHINGLED_CHARS",
    "ROWS",
    "SAME_VOICE_AGREEMENT",
    "SIGNATURE_SIZE",
    "fingerprint",
    "fingerprint_and_group",
    "hamming",
    "group_voices",
    "signatures",
    "voice_text",
]

SIGNATURE_SIZE = 64
BANDS = 32
ROWS = 2
SAME_VOICE_AGREEMENT = 0.5
MIN_SHINGLED_CHARS = 8
MAX_VOICE_CHARS = 20_000  # a longer post's voice is its first 20,000 letters and digits
_MAX_INPUT_CHARS = 200_000
_CHUNK_BIGRAMS = 1 << 16

_CHAIN_SPLIT = re.compile(r"//\s?@[^:/]{1,30}:")
# Text Weibo clients put into a repost or share by default (after folding: simplified, lower case).
_BOILERPLATE = re.compile(r"转发微博|转载微博|repost|分享图片|分享视频")
# As in normalize: "@name", not preceded by a letter, digit, "_" or "." (so e-mail addresses stay).
_MENTION = re.compile(r"(?<![a-z0-9_.])@[\w\-]{1,30}")
_NOT_WORD = re.compile(r"[\W_]+")

# Multiply-shift hash family: h_k(x) = (a_k · x + b_k) >> 32 over 64-bit words, a_k odd.  The
# constants come from splitmix64 of fixed seeds (not from numpy's Generator, whose streams may
# change between numpy versions): stored fingerprints must keep their meaning.
_K = np.arange(SIGNATURE_SIZE, dtype=np.uint64)
_A = mix64(_K, 101) | np.uint64(1)
_B = mix64(_K, 202)
_EMPTY = np.uint32(0xFFFFFFFF)


def _strip(segment: str) -> str:
    segment = _MENTION.sub("", segment)
    segment = _BOILERPLATE.sub("", segment)
    return _NOT_WORD.sub("", segment)


def voice_text(text: str) -> str:
    """The part of a post that decides its voice (see the module docstring)."""
    folded = fold(text[:_MAX_INPUT_CHARS], keep_urls=False)
    if "//" not in folded:
        return _strip(folded)[:MAX_VOICE_CHARS]
    for segment in _CHAIN_SPLIT.split(folded):
        own = _strip(segment)
        if own:
            return own[:MAX_VOICE_CHARS]
    return ""


def _signature_matrix(voices: Sequence[str]) -> npt.NDArray[np.uint32]:
    """MinHash signatures (len(voices) × SIGNATURE_SIZE) over character bigrams.

    A voice text shorter than two characters has no bigram; its row is all 0xFFFFFFFF.
    """
    batch: Batch = to_batch(list(voices))
    keys, doc = ngram_keys(batch, 2)
    n = batch.count
    sig = np.full((n, SIGNATURE_SIZE), _EMPTY, dtype=np.uint32)
    if keys.size == 0:
        return sig
    base = mix64(keys, 0)
    # doc is sorted; reduce each text's run of bigrams.
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    owners = doc[starts]
    # Texts are taken in runs of about _CHUNK_BIGRAMS bigrams, to bound the temporary
    # (bigrams × SIGNATURE_SIZE) matrix; voice texts are at most MAX_VOICE_CHARS long.
    bounds = np.r_[starts, keys.size]
    lo = 0
    while lo < starts.size:
        hi = int(np.searchsorted(bounds, bounds[lo] + _CHUNK_BIGRAMS, side="right")) - 1
        hi = min(max(hi, lo + 1), starts.size)
        a, b = int(bounds[lo]), int(bounds[hi])
        h = ((base[a:b, None] * _A[None, :] + _B[None, :]) >> np.uint64(32)).astype(np.uint32)
        sig[owners[lo:hi]] = np.minimum.reduceat(h, starts[lo:hi] - a, axis=0)
        lo = hi
    return sig


def signatures(texts: Sequence[str]) -> tuple[list[str], npt.NDArray[np.uint32]]:
    """Voice texts and their MinHash signatures (len(texts) × SIGNATURE_SIZE, uint32)."""
    voices = [voice_text(t) for t in texts]
    return voices, _signature_matrix(voices)


def _exact_hash(voice: str) -> int:
    return int.from_bytes(hashlib.blake2b(voice.encode("utf-8"), digest_size=8).digest(), "little")


def _sketches(unique: Sequence[str], sig: npt.NDArray[np.uint32]) -> list[int]:
    bits = (sig & np.uint32(1)).astype(np.uint64)
    weights = np.uint64(1) << np.arange(SIGNATURE_SIZE, dtype=np.uint64)
    sketch = [int(x) for x in (bits * weights[None, :]).sum(axis=1, dtype=np.uint64)]
    for j, voice in enumerate(unique):
        if len(voice) < MIN_SHINGLED_CHARS:
            sketch[j] = _exact_hash(voice) if voice else 0
    return sketch


def _distinct(voices: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct voice texts, and each text's index among them."""
    distinct: dict[str, int] = {}
    slot = [distinct.setdefault(v, len(distinct)) for v in voices]
    return list(distinct), slot


def fingerprint(texts: Sequence[str]) -> list[int]:
    """A 64-bit fingerprint per text.

    For voice texts of at least ``MIN_SHINGLED_CHARS`` characters it is a 1-bit MinHash sketch
    (bit k = lowest bit of min-hash k): two texts agree on a bit with probability (1 + J) / 2,
    where J is the Jaccard similarity of their bigram sets, so the Hamming distance estimates
    32 · (1 − J).  Shorter voice texts get a hash of the exact voice text instead (equal short
    voices ⇔ equal fingerprints, up to hash collisions).  An empty voice gets 0.
    """
    unique, slot = _distinct([voice_text(t) for t in texts])
    sketch = _sketches(unique, _signature_matrix(unique))
    return [sketch[j] for j in slot]


def fingerprint_and_group(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """`fingerprint(texts)` and `group_voices(texts)` at once, the voice texts and signatures
    computed once (the ingest stage wants both)."""
    voices = [voice_text(t) for t in texts]
    unique, slot = _distinct(voices)
    sig = _signature_matrix(unique)
    sketch = _sketches(unique, sig)
    return [sketch[j] for j in slot], _group(voices, unique, slot, sig)


def hamming(a: int, b: int) -> int:
    """Bits in which two fingerprints differ (≈ 32 · (1 − J) for MinHash sketches)."""
    return (a ^ b).bit_count()


def _components(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Smallest member index of the connected component of each of n nodes, given edges a–b."""
    labels = np.arange(n, dtype=np.int64)
    if a.size == 0:
        return labels
    while True:
        low = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, labels[a], low)
        np.minimum.at(labels, labels[b], low)
        while True:  # pointer jumping: every node points at its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(labels, before):
            return labels


def _candidate_pairs(
    sig: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pairs (first member of an LSH bucket, other member), over all bands, without repeats."""
    n = sig.shape[0]
    firsts: list[npt.NDArray[np.int64]] = []
    others: list[npt.NDArray[np.int64]] = []
    for band in range(BANDS):
        cols = sig[:, band * ROWS : (band + 1) * ROWS].astype(np.uint64)
        key = cols[:, 0]
        for r in range(1, ROWS):
            key = mix64(key, r) ^ cols[:, r]
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        rep = first[inverse.reshape(-1)].astype(np.int64)
        member = np.flatnonzero(rep != np.arange(n))
        firsts.append(rep[member])
        others.append(member.astype(np.int64))
    a = np.concatenate(firsts)
    b = np.concatenate(others)
    if a.size == 0:
        return a, b
    pair = np.unique(a * n + b)
    return pair // n, pair % n


def group_voices(texts: Sequence[str]) -> list[int]:
    """A voice id per text (0, 1, 2, … in order of first appearance); equal id = same voice."""
    voices = [voice_text(t) for t in texts]
    unique, slot = _distinct(voices)
    return _group(voices, unique, slot, None)


def _group(
    voices: Sequence[str],
    unique: Sequence[str],
    slot: Sequence[int],
    sig_all: npt.NDArray[np.uint32] | None,
) -> list[int]:
    """group_voices' work on distinct voice texts (`sig_all`: their signatures, if computed)."""
    n = len(voices)
    # Identical voice texts are one voice without any hashing; the rest works on distinct voices.
    long_ids = np.array(
        [j for j, v in enumerate(unique) if len(v) >= MIN_SHINGLED_CHARS], dtype=np.int64
    )
    labels = np.arange(len(unique), dtype=np.int64)
    if long_ids.size > 1:
        if sig_all is None:
            sig = _signature_matrix([unique[j] for j in long_ids])
        else:
            sig = sig_all[long_ids]
        a, b = _candidate_pairs(sig)
        keep = np.zeros(a.size, dtype=bool)
        step = 1 << 18
        for lo in range(0, a.size, step):
            agree = (sig[a[lo : lo + step]] == sig[b[lo : lo + step]]).mean(axis=1)
            keep[lo : lo + step] = agree >= SAME_VOICE_AGREEMENT
        local = _components(long_ids.size, a[keep], b[keep])
        labels[long_ids] = long_ids[local]
    # Number voices in order of first appearance; every empty voice is a voice of its own.
    ids: dict[int, int] = {}
    out: list[int] = []
    for i in range(n):
        key = int(labels[slot[i]]) if voices[i] else -1 - i
        out.append(ids.setdefault(key, len(ids)))
    return out
