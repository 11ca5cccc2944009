"""The shortcut that skips extraction: it may only ever skip pages no rule can match.

The quick text of a page must contain every term the main text contains, so
``could_match(quick text)`` is never False when the rules match the main text.
Checked on our own pages, and on the real pages of ../shared/corpus when it is there.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from conftest import query, run_monitor, write_config
from content import ARTICLES, item_for, page, rss

from monitor.config import RuleConfig
from monitor.extract import extract_text, quick_text
from monitor.models import Article
from monitor.rules import RuleSet

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "trafilatura-pages"
_WORD = re.compile(r"[^\W\d_]{3,}")


def pages() -> list[tuple[str, bytes]]:
    own = [(slug, page(a).encode("utf-8")) for slug, a in ARTICLES.items() if a.paragraphs]
    real = []
    if CORPUS.is_dir():
        files = sorted((CORPUS / "cache").glob("*.html")) + sorted((CORPUS / "eval").glob("*.html"))
        real = [(f.name, f.read_bytes()) for f in random.Random(3).sample(files, 60)]
    return own + real


@pytest.mark.parametrize("name,body", pages(), ids=[name[:40] for name, _ in pages()])
def test_every_term_of_the_main_text_is_in_the_quick_text(name, body):
    main = extract_text(body, "https://example.org/a")
    quick = quick_text(body)
    assert quick is not None, "the test pages are in clear encodings"
    words = _WORD.findall(main)
    if not words:
        pytest.skip("no main text")
    rng = random.Random(name)
    picked = rng.sample(words, min(40, len(words)))
    phrases = [" ".join(words[i:i + 2]) for i in rng.sample(range(len(words) - 1), min(20, len(words) - 1))]
    compounds = [w[:-2] + "*" for w in picked if len(w) > 6] + ["*" + w[2:] for w in picked if len(w) > 6]
    for term in picked + phrases + compounds:
        rules = RuleSet([RuleConfig("r", any=(term,))])
        if rules.match(Article("", main, None, 0.0)):
            assert rules.could_match(quick), f"{term!r} matches the main text but not the quick text"


def test_the_shipped_rules_skip_irrelevant_pages_but_never_relevant_ones():
    from monitor.config import load
    shipped = load(Path(__file__).resolve().parents[1] / "config.toml", environ={}).ruleset
    for slug, body in pages():
        main = extract_text(body, "https://example.org/a")
        if shipped.match(Article("", main, None, 0.0)):
            assert shipped.could_match(quick_text(body)), slug
    plain = "".join(f"<p>{p}</p>" for p in ARTICLES["nl-weer"].paragraphs)
    assert not shipped.could_match(quick_text(f"<html><body>{plain}</body></html>".encode()))


def test_a_page_in_an_unsure_encoding_is_extracted_not_judged():
    latin = ("<html><body><p>" + "Die Maßnahmen gegen Exporte. " * 20 + "</p></body></html>").encode("latin-1")
    assert quick_text(latin) is None                     # no declaration, not UTF-8: no shortcut
    declared = latin.replace(b"<html>", b'<html><head><meta charset="iso-8859-1"></head>')
    assert "Maßnahmen" in quick_text(declared)


def test_pages_no_rule_can_match_are_kept_but_not_extracted(site, webhook, tmp_path):
    items = [item_for(ARTICLES[s], site) for s in ("en-chips", "nl-weer")]
    url = site.put("/f", rss("f", items), "application/rss+xml")
    rules = '[[rules]]\nname = "chips"\nany = ["licence"]\n'
    config = write_config(tmp_path, [{"name": "f", "url": url}], rules=rules, channels={"hook": webhook.url()})
    assert run_monitor("check", "--config", str(config)).code == 0
    rows = dict((title, (text, page, language)) for title, text, page, language in query(
        tmp_path / "monitor.db", "SELECT title, text IS NOT NULL, page IS NOT NULL, language FROM articles"))
    # the chips page could match (it says "licence"): extracted, language detected, text kept;
    # the weather page could not: neither extracted nor detected, the page kept for backtest
    assert rows[ARTICLES["en-chips"].title] == (1, 0, "en")
    assert rows[ARTICLES["nl-weer"].title] == (0, 1, None)
