"""Vectorised character n-grams for a batch of texts (shared by sentiment and fingerprint).

A batch is turned into one array of code points with a 0 between texts, so n-grams of every text
come out of a few numpy operations instead of a Python loop per character.  An n-gram (n ≤ 3) is
packed exactly into one 64-bit key (21 bits per code point), then hashed multiplicatively.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# Fibonacci hashing constant (2^64 / golden ratio); odd, so multiplication is a bijection mod 2^64.
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Batch:
    """Code points of a batch of texts, separated (and terminated) by 0."""

    codepoints: npt.NDArray[np.uint32]
    doc: I64  # text index of every position (separators belong to the text before them)
    count: int  # number of texts


def to_batch(texts: list[str]) -> Batch:
    """Pack texts into one code-point array; NUL inside a text is treated as a separator."""
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    joined = "\x00".join(texts) + "\x00" if texts else ""
    # surrogatepass: a lone surrogate becomes its own code point instead of an exception.
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    return Batch(codepoints=cps, doc=doc, count=len(texts))


def ngram_keys(batch: Batch, n: int) -> tuple[U64, I64]:
    """Exact 64-bit keys of all n-grams (1 ≤ n ≤ 3) that lie inside one text, with their text index.

    Keys of different orders never collide: the last code point of an n-gram is non-zero and sits
    at bit 21·(n-1).
    """
    cps = batch.codepoints.astype(np.uint64)
    size = cps.shape[0] - n + 1
    if size <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    key = cps[:size].copy()
    valid = key != 0
    for i in range(1, n):
        part = cps[i : i + size]
        valid &= part != 0
        key |= part << np.uint64(21 * i)
    return key[valid], batch.doc[:size][valid]


def hash_bucket(keys: U64, bits: int, seed: int = 0) -> I64:
    """Multiplicative hash of keys into [0, 2**bits)."""
    mixed = (keys ^ np.uint64(seed)) * GOLDEN
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


def mix64(keys: U64, seed: int) -> U64:
    """A well-mixed 64-bit hash of keys (splitmix64 finaliser), one independent function per seed."""
    z = keys + np.uint64((0x9E3779B97F4A7C15 * (seed + 1)) & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
