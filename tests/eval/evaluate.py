"""Precision and recall of a config's rules on the labelled evaluation set, per language.

    python tests/eval/evaluate.py [--config config.toml] [--misses]
    python tests/eval/evaluate.py --jsonl eval.jsonl      # the set as a labelled file, for monitor train

The set: tests/eval/articles/<lang>.jsonl (articles written for it: about half
relevant to sanctions and export controls, half traps such as "sin embargo",
sports sanctions, German "bis", H2O, software entity lists, press embargoes
and the EU's tax-haven blacklist), and tests/eval/labels.csv (the labels, in
one file). Each article goes through what the pipeline does with a text: language
detection on title and text, the keyword rules on both, the topics on the
title and lead (the first paragraphs), then each rule's mode. An article
counts as alerted when at least one rule matches. The shipped model was
trained on this set too (it is the only French and Spanish data there is);
`monitor evaluate --cross-validate` gives its figures on folds it did not see.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def load_set(folder: Path = HERE) -> list[dict]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        labels = {row["id"]: row for row in csv.DictReader(handle)}
    articles = []
    for path in sorted((folder / "articles").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                article = json.loads(line)
                article.update(relevant=labels[article["id"]]["relevant"] == "1", note=labels[article["id"]]["note"])
                articles.append(article)
    missing = set(labels) - {a["id"] for a in articles}
    if missing:
        raise SystemExit(f"labels without articles: {sorted(missing)}")
    return articles


@functools.cache   # the tests ask twice (their fixture, and main): the same config gives the same scores
def evaluate(config_path: Path = ROOT / "config.toml") -> dict:
    """Scores per language (monitor.relevance.training.Scores), each article judged as ``check`` would."""
    from monitor.config import load
    from monitor.language import LanguageDetector
    from monitor.relevance import training
    from monitor.relevance.encoder import Encoder

    settings = load(config_path, environ={})
    items = [training.Item(a["id"], a["lang"], a["title"], a["text"], a["relevant"]) for a in load_set()]
    encoder = Encoder()
    prepared = training.prepare(items, settings.judge, encoder.encode, LanguageDetector())
    return training.score(prepared, settings.judge, encoder.encode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.toml")
    parser.add_argument("--misses", action="store_true", help="list every wrong verdict")
    parser.add_argument("--jsonl", type=Path, help="only write the set as a labelled file for `monitor train`")
    args = parser.parse_args(argv)
    if args.jsonl:
        with open(args.jsonl, "w", encoding="utf-8") as out:
            for a in load_set():
                row = {"id": a["id"], "lang": a["lang"], "title": a["title"], "description": a["text"],
                       "label": "relevant" if a["relevant"] else "not_relevant"}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    scores = evaluate(args.config)
    from monitor.relevance.training import Scores

    total = Scores()
    print(f"{'lang':<6}{'articles':>9}{'relevant':>9}{'precision':>11}{'recall':>8}")
    for lang, score in scores.items():
        for name in ("tp", "fp", "fn", "tn"):
            setattr(total, name, getattr(total, name) + getattr(score, name))
        total.wrong += score.wrong
        count = score.tp + score.fp + score.fn + score.tn
        print(f"{lang:<6}{count:>9}{score.tp + score.fn:>9}{score.precision:>11.3f}{score.recall:>8.3f}")
    count = total.tp + total.fp + total.fn + total.tn
    print(f"{'all':<6}{count:>9}{total.tp + total.fn:>9}{total.precision:>11.3f}{total.recall:>8.3f}")
    if args.misses:
        print("\n".join(total.wrong) or "no wrong verdicts")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
