"""How long the rules take on one article: 5,000 terms over a 10 KB text.

    python bench/matching.py [--terms 5000] [--rules 500] [--runs 200]

Prints, measured side by side in one run (the machine is shared: compare the
ratios, not the absolute numbers):

* monitor's RuleSet.match (fold the text once, one Aho-Corasick pass for all
  terms, verify the hits, evaluate every rule);
* the same terms as one compiled regular-expression alternation;
* the same terms as a loop of re.search, one per term (the tutorial way).

The text is a real news page's main text from ../shared/corpus when that is
present, else built from the evaluation set; either way cut to 10 KB.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.models import Article  # noqa: E402
from monitor.rules import RuleSet, RuleSpec  # noqa: E402
from monitor.rules.normalize import fold_term  # noqa: E402
from monitor.text import tidy  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "trafilatura-pages" / "cache"


def article_text(size: int = 10_000) -> str:
    pages = sorted(CORPUS.glob("*.html")) if CORPUS.is_dir() else []
    if pages:
        from monitor.extract import extract_text

        text = ""
        for page in pages:
            text += extract_text(page.read_bytes(), "https://example.org/") + "\n"
            if len(text) >= size:
                break
    else:
        lines = (ROOT / "tests" / "eval" / "articles" / "de.jsonl").read_text(encoding="utf-8").splitlines()
        text = "\n".join(json.loads(line)["text"] for line in lines)
    while len(text) < size:
        text += "\n" + text
    return text[:size]


def make_terms(text: str, count: int, rng: random.Random, from_text: float) -> list[str]:
    """Words, phrases and word* of eight languages (from the evaluation set); the share ``from_text``
    of them is taken from the article itself, so that they occur."""
    own = sorted({w for w in re.findall(r"[^\W\d_]{4,}", text)})
    folded_own = {fold_term(w) for w in own}
    vocabulary: set[str] = set()
    for path in sorted((ROOT / "tests" / "eval" / "articles").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            vocabulary.update(re.findall(r"[^\W\d_]{4,}", json.loads(line)["text"]))
    others = sorted(w for w in vocabulary if fold_term(w) not in folded_own and not any(
        fold_term(w)[:4] == o[:4] for o in ()))
    terms: set[str] = set()
    while len(terms) < count:
        first = rng.choice(own if rng.random() < from_text else others)
        kind = rng.random()
        if kind < 0.3:
            terms.add(f"{first} {rng.choice(others)}")
        elif kind < 0.4:
            terms.add(first[: max(4, len(first) - 2)] + "*")
        else:
            terms.add(first)
    return sorted(terms)


def _search_each(patterns: list[re.Pattern[str]], text: str) -> list[re.Match[str] | None]:
    """The naive way: one regular expression per term, each searched on its own."""
    return [p.search(text) for p in patterns]


def timed(function, runs: int) -> float:
    """The lowest of three medians: the machine is shared, and noise only ever adds time."""
    medians = []
    for _ in range(3):
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            function()
            samples.append(time.perf_counter() - start)
        medians.append(statistics.median(samples))
    return min(medians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=int, default=5000)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    text = tidy(article_text())
    print(f"{args.terms} terms in {args.rules} rules over a {len(text):,}-character article "
          f"({'corpus page' if CORPUS.is_dir() else 'evaluation set'} text), median of {args.runs} runs")
    scenarios = (("quiet: none of the terms occurs in the article", 0.0),
                 ("typical: 1% of the terms taken from the article", 0.01),
                 ("heavy: 30% of the terms taken from the article", 0.30))
    for label, share in scenarios:
        terms = make_terms(text, args.terms, random.Random(7), share)
        if share == 0.0:   # quiet means quiet: drop the few words that occur anyway (common words, prefixes)
            probe = RuleSet([RuleSpec("probe", any=tuple(terms))])
            hits = probe.match(Article("", text, "de", 1.0))
            found = {hit.term for match in hits for hit in match.hits}
            terms = [t for t in terms if t not in found]
            while len(terms) < args.terms:
                terms.append(f"quietterm{len(terms)}")
        per_rule = len(terms) // args.rules
        rules = [RuleSpec(f"r{i}", any=tuple(terms[i * per_rule:(i + 1) * per_rule])) for i in range(args.rules)]
        start = time.perf_counter()
        ruleset = RuleSet(rules)
        build = time.perf_counter() - start
        article = Article("", text, "de", 1.0)
        matched = len(ruleset.match(article))
        monitor = timed(partial(ruleset.match, article), args.runs)
        plain = [t.rstrip("*") for t in terms]
        alternation = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in sorted(plain, key=len, reverse=True))
                                 + r")\b", re.IGNORECASE)
        one_regex = timed(partial(alternation.findall, text), max(3, args.runs // 40))
        patterns = [re.compile(r"\b" + re.escape(t) + r"\b", re.IGNORECASE) for t in plain]
        loop = timed(partial(_search_each, patterns, text), 3)
        print(f"\n{label}; {matched} of {len(rules)} rules match")
        print(f"  compiling the rules (once, at config load): {build * 1000:8.1f} ms")
        print(f"  monitor RuleSet.match:                      {monitor * 1000:8.3f} ms   1.0x")
        print(f"  one regex alternation:                      {one_regex * 1000:8.3f} ms   {one_regex / monitor:6.1f}x")
        print(f"  a loop of re.search, one per term:          {loop * 1000:8.3f} ms   {loop / monitor:6.1f}x")


if __name__ == "__main__":
    main()
