"""Benchmark textkit on real Weibo texts: normalisation, the monitor matcher, and (through
bench/textkit_models.py, when present) sentiment and fingerprints.

    .venv/bin/python bench/textkit.py [--quick]

Data: `$GUANWEI_DATA_DIR/ced/cascades.jsonl.gz` (default `../shared/data` next to the repo): every
source text and every repost text of the CED cascades, in file order, skipping empty texts (plain
reposts without a comment; their number is printed). `--quick` stops after 100,000 texts.

Rules: 10,000, generated deterministically (seeded `random.Random`) from the data's own
vocabulary — character 2–4-grams of CJK text counted on the first 50,000 texts, frequency ranks
1,000–60,000 (no stop-words), drawn as rank = N·u^1.5 (u uniform: popular words more often, the
most popular in a few dozen rules); 5–6-grams seen ≥ 3 times for "phrases"; field values are real
author uids, locations and source accounts of the data. The mix:

* 40 % OR of 2–5 terms or "phrases"                      `肺炎 OR 口罩 OR "转发微博"`
* 25 % AND (implicit or explicit), sometimes with an OR    `医院 患者`, `医生 AND (病人 OR 家属)`
* 15 % with NOT / -term                                    `谣言 -辟谣`, `(a OR b) AND NOT c`
* 10 % NEAR/n (n = 3…20), sometimes with OR groups          `警察 NEAR/10 打人`
* 10 % filters: 9 % a field (verified:, region:, author:, account:) with a term, 1 % a term
  AND a /regex/; the last 10 rules are regexes (5 pure `/\\d{3,}/`-like ones that must look at
  every post, 5 `/转发.{0,3}微博/ term`).

Timing: CPU time of this process (`time.process_time`, garbage collector paused as `timeit`
does), best of three interleaved rounds — the machine is shared, and wall-clock figures swing with its load.

Figures: `match_posts_per_s` — `Matcher.match` on MatchText objects, end to end (folding included);
`raw_automaton_posts_per_s` — one pyahocorasick automaton over exactly the same literals, folding
the text the same way and iterating every hit, no rule logic (`ratio_to_raw` = raw ÷ match);
`naive_regex_posts_per_s` — one compiled Python `re` per rule (terms as lookaheads, fields as
lookaheads over a "\\x00field=value" suffix) tried in a loop, on a sample of posts only (printed).
The *_prefolded variants run both on texts folded beforehand, i.e. without the normalisation cost.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import pathlib
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import ahocorasick  # noqa: E402

from guanwei.textkit.normalize import fold, normalize  # noqa: E402
from guanwei.textkit.query import (  # noqa: E402
    And,
    Field,
    MatchText,
    Near,
    Node,
    Not,
    Or,
    Regex,
    Term,
    compile_rules,
    parse,
)

NOTES = """notes (docs: bench/textkit.py docstring):
  rules: 40 % OR of 2-5 terms/phrases, 25 % AND, 15 % NOT, 10 % NEAR/3-20, 9 % a field
         (verified/region/author/account) with a term, 1 % term AND /regex/, and 10 regex rules
         (5 pure); words are CJK 2-4-grams of the data (frequency ranks 1,000-60,000).
  match_posts_per_s: Matcher.match end to end, folding included; raw: the same automaton over
         the same literals, folding the same way, iterating hits with no rule logic.
  *_prefolded: both on texts folded beforehand. naive: one Python regex per rule, on a sample.
  timing: CPU seconds of this process, GC paused, best of 3 interleaved rounds (the machine is shared)."""

RULES = 10_000
QUICK_POSTS = 100_000
NAIVE_SAMPLE = 500
ROUNDS = 3
SEED = 20261126


def data_dir() -> pathlib.Path:
    env = os.environ.get("GUANWEI_DATA_DIR")
    return pathlib.Path(env) if env else REPO.parent / "shared" / "data"


def read_posts(path: pathlib.Path, limit: int | None) -> tuple[list[MatchText], int, int]:
    """Posts (source + reposts, non-empty text) and the numbers of texts read and skipped."""
    posts: list[MatchText] = []
    seen = skipped = 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            cascade = json.loads(line)
            source = cascade["source"]
            account = str(source.get("uid") or "")
            user = source.get("user") or {}
            items: list[tuple[str, str, int | None, str]] = [
                (
                    source.get("text") or "",
                    account,
                    user.get("verified_type"),
                    user.get("location") or "",
                )
            ]
            for repost in cascade["reposts"]:
                items.append((repost.get("text") or "", str(repost.get("uid") or ""), None, ""))
            for text, author, verified_type, region in items:
                seen += 1
                if not text:
                    skipped += 1
                    continue
                vt = verified_type if isinstance(verified_type, int) else None
                posts.append(MatchText(text, author, vt, region, account))
                if limit is not None and len(posts) >= limit:
                    return posts, seen, skipped
    return posts, seen, skipped


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def vocabulary(texts: list[str]) -> tuple[list[str], list[str]]:
    """Terms (2–4-grams) and phrases (4–6-grams) by frequency rank, from the folded texts."""
    grams: Counter[str] = Counter()
    long_grams: Counter[str] = Counter()
    for text in texts:
        for run in _CJK_RUN.findall(fold(text)):
            seen: set[str] = set()
            for n in (2, 3, 4):
                for i in range(len(run) - n + 1):
                    seen.add(run[i : i + n])
            grams.update(seen)
            long_seen = {run[i : i + n] for n in (5, 6) for i in range(len(run) - n + 1)}
            long_grams.update(long_seen)
    terms = [g for g, _ in grams.most_common(60_000)[1000:]]
    phrases = [g for g, c in long_grams.most_common(5_000)[50:] if c >= 3]
    return terms, phrases


def generate_rules(posts: list[MatchText], terms: list[str], phrases: list[str]) -> dict[str, str]:
    rng = random.Random(SEED)

    def term() -> str:
        # rank = N·u^1.5 (u uniform): popular words more often than rare ones, the most popular
        # in a few dozen rules, as in a large enterprise's vocabulary of brands and products
        return terms[int(len(terms) * rng.random() ** 1.5)]

    def term_or_phrase() -> str:
        if phrases and rng.random() < 0.2:
            return f'"{rng.choice(phrases)}"'
        return term()

    authors = sorted({p.author for p in posts if p.author})
    regions = sorted({p.region.split(" ")[0] for p in posts if p.region})
    accounts = sorted({p.account for p in posts if p.account})
    regex_bodies = [r"\d{3,}", r"[0-9]+元", r"http", r"[a-z]{4,}", r"\d+月\d+日", r"[?？]{2,}"]
    rules: dict[str, str] = {}
    for i in range(RULES - 10):
        kind = i % 100
        if kind < 40:
            text = " OR ".join(term_or_phrase() for _ in range(rng.randint(2, 5)))
        elif kind < 65:
            if rng.random() < 0.6:
                text = f"{term()} {term()}"
            else:
                text = f"{term()} AND ({term()} OR {term_or_phrase()})"
        elif kind < 80:
            if rng.random() < 0.5:
                text = f"{term()} -{term()}"
            else:
                text = f"({term()} OR {term()}) AND NOT {term_or_phrase()}"
        elif kind < 90:
            n = rng.randint(3, 20)
            if rng.random() < 0.7:
                text = f"{term()} NEAR/{n} {term()}"
            else:
                text = f"({term()} OR {term()}) NEAR/{n} {term()}"
        else:
            choice = rng.random()
            if kind == 99:
                text = f"{term()} /{rng.choice(regex_bodies)}/"
            elif choice < 0.3:
                text = f"{term()} verified:{rng.choice(['true', 'false', 'blue', 'yellow'])}"
            elif choice < 0.6 and regions:
                text = f"{term()} region:{rng.choice(regions)}"
            elif choice < 0.8 and authors:
                text = f"author:{rng.choice(authors)} OR {term()}"
            else:
                text = f"account:{rng.choice(accounts)} {term()}"
        rules[f"r{i:05d}"] = text
    for j, body in enumerate(regex_bodies[:5] + [r"转发.{0,3}微博"] * 5):
        rules[f"x{j:02d}"] = f"/{body}/" if j < 5 else f"/{body}/ {term()}"
    return rules


# --- the naive baseline: one Python regex per rule -----------------------------------------------


def _naive(node: Node) -> str:
    # the subject is "\x00field=value\x00…\x01text": text conditions look after the \x01
    if isinstance(node, Term):
        return f"(?=.*?\x01.*?{re.escape(node.text)})"
    if isinstance(node, Regex):
        return f"(?=.*?\x01.*?(?:{node.pattern}))"
    if isinstance(node, Field):
        return f"(?=[^\x01]*?\x00{node.name}={re.escape(node.value)}\x00)"
    if isinstance(node, Near):
        a = "|".join(re.escape(x) for x in node.left)
        b = "|".join(re.escape(x) for x in node.right)
        n = node.distance
        return f"(?=.*?\x01.*?(?:(?:{a}).{{0,{n}}}(?:{b})|(?:{b}).{{0,{n}}}(?:{a})))"
    if isinstance(node, Not):
        return f"(?!{_naive(node.child)})"
    if isinstance(node, And):
        return "".join(_naive(c) for c in node.children)
    assert isinstance(node, Or)
    return "(?:" + "|".join(_naive(c) for c in node.children) + ")"


def _naive_subject(post: MatchText) -> str:
    from guanwei.textkit.query import verified_classes

    fields = "".join(f"\x00verified={c}\x00" for c in verified_classes(post.verified_type))
    region = fold(post.region)
    regions = {region, *region.split(" ")} if region else set()
    fields += "".join(f"\x00region={r}\x00" for r in regions)
    return (
        f"\x00author={fold(post.author)}\x00\x00account={fold(post.account)}\x00"
        + fields
        + "\x01"
        + fold(post.text)
    )


def cpu_time(fn: Any) -> float:
    """CPU seconds of one run of ``fn``, with the garbage collector paused (as timeit does)."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        fn()
        return time.process_time() - t0
    finally:
        gc.enable()


def best_cpu(fn: Any, repeat: int = 2) -> float:
    return min(cpu_time(fn) for _ in range(repeat))


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 texts instead of all")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    root = data_dir()
    path = root / "ced" / "cascades.jsonl.gz"
    if not path.exists():
        print(f"no CED data at {path}; set GUANWEI_DATA_DIR")
        print("RESULT " + json.dumps({"error": "no data"}))
        sys.exit(1)

    t0 = time.perf_counter()
    posts, seen, skipped = read_posts(path, QUICK_POSTS if args.quick else None)
    texts = [p.text for p in posts]
    print(
        f"read {seen:,} texts from {path} in {time.perf_counter() - t0:.1f} s; "
        f"skipped {skipped:,} empty ones (plain reposts); using {len(posts):,}"
    )
    result["posts"] = len(posts)

    # normalisation
    folded: list[str] = []

    def run_fold() -> None:
        folded[:] = [fold(t) for t in texts]

    result["fold_texts_per_s"] = rate(len(texts), best_cpu(run_fold))
    sample = texts[:20_000]
    result["normalize_texts_per_s"] = rate(
        len(sample), best_cpu(lambda: [normalize(t) for t in sample])
    )

    t0 = time.perf_counter()
    terms, phrases = vocabulary(texts[:50_000])
    rules = generate_rules(posts, terms, phrases)
    result["rules"] = len(rules)
    print(
        f"vocabulary: {len(terms):,} terms, {len(phrases):,} phrases; "
        f"{len(rules):,} rules generated in {time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    matcher = compile_rules(rules)
    result["compile_s"] = round(time.perf_counter() - t0, 2)
    print(
        f"compiled in {result['compile_s']} s: {matcher.literal_count:,} literals, "
        f"plan {matcher.plan_counts}, {len(matcher.warnings)} rules with warnings"
    )

    # the full language end to end; the raw automaton over the same literals, only iterating
    # hits; and both again on texts folded beforehand. Interleaved rounds, best of each.
    automaton = ahocorasick.Automaton()
    for lid, lit in enumerate(_literals(matcher)):
        automaton.add_word(lit, lid)
    automaton.make_automaton()
    matches: list[list[str]] = []
    hits = [0]

    def run_match() -> None:
        matches[:] = matcher.match(posts)

    def run_raw() -> None:
        n = 0
        for p in posts:
            for _end, _value in automaton.iter(fold(p.text)):
                n += 1
        hits[0] = n

    def run_match_prefolded() -> None:
        matcher._match_many(folded, posts)

    def run_raw_prefolded() -> None:
        for t in folded:
            for _end, _value in automaton.iter(t):
                pass

    runs = {
        "match": run_match,
        "raw": run_raw,
        "match_pf": run_match_prefolded,
        "raw_pf": run_raw_prefolded,
    }
    best: dict[str, float] = {}
    for _round in range(ROUNDS):
        for name, fn in runs.items():
            best[name] = min(best.get(name, float("inf")), cpu_time(fn))
    result["match_posts_per_s"] = rate(len(posts), best["match"])
    result["matches_per_post"] = round(sum(map(len, matches)) / len(posts), 2)
    result["raw_automaton_posts_per_s"] = rate(len(posts), best["raw"])
    result["ratio_to_raw"] = round(best["match"] / best["raw"], 2)
    result["automaton_hits_per_post"] = round(hits[0] / len(posts), 2)
    result["match_prefolded_posts_per_s"] = rate(len(posts), best["match_pf"])
    result["raw_prefolded_posts_per_s"] = rate(len(posts), best["raw_pf"])
    result["ratio_to_raw_prefolded"] = round(best["match_pf"] / best["raw_pf"], 2)

    # naive: one Python regex per rule, in a loop, on a sample
    t0 = time.perf_counter()
    naive = [(rid, re.compile(_naive(parse(text)), re.DOTALL)) for rid, text in rules.items()]
    naive_compile_s = time.perf_counter() - t0
    step = max(1, len(posts) // NAIVE_SAMPLE)
    naive_posts = posts[::step][:NAIVE_SAMPLE]
    naive_found: list[set[str]] = []

    def run_naive() -> None:
        naive_found[:] = []
        for p in naive_posts:
            subject = _naive_subject(p)
            naive_found.append({rid for rid, pattern in naive if pattern.match(subject)})

    naive_s = best_cpu(run_naive, repeat=1)
    disagreements = sum(
        found != set(ids)
        for found, ids in zip(naive_found, matcher.match(naive_posts), strict=True)
    )
    result["naive_regex_posts_per_s"] = rate(len(naive_posts), naive_s)
    result["naive_sample_posts"] = len(naive_posts)
    result["speedup_vs_naive"] = round(
        result["match_posts_per_s"] / result["naive_regex_posts_per_s"], 1
    )
    print(
        f"naive baseline: {len(naive):,} Python regexes compiled in {naive_compile_s:.1f} s, run "
        f"on a sample of {len(naive_posts)} posts (every {step}th); it disagrees with the matcher "
        f"on {disagreements} of them (its NEAR regex only approximates the gap rule)"
    )
    print(NOTES)

    try:
        from textkit_models import measure  # type: ignore[import-not-found]
    except ImportError as e:
        print(
            f"note: bench/textkit_models.py not available ({e}); sentiment/fingerprint keys left out"
        )
    else:
        t0 = time.perf_counter()
        result.update(measure(root, args.quick))
        print(f"models measured in {time.perf_counter() - t0:.1f} s")
    print("RESULT " + json.dumps(result, ensure_ascii=False))


def _literals(matcher: Any) -> Iterator[str]:
    """Every literal the matcher's automaton holds (same terms for the raw baseline)."""
    automaton = matcher._automaton
    yield from (key for key in automaton.keys())


if __name__ == "__main__":
    main()
