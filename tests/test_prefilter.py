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
from conftest import invoke_monitor, query, write_config
from content import ARTICLES, item_for, page, rss

from monitor.extract import extract_text, keepable, quick_text, readable
from monitor.models import Article
from monitor.rules import RuleSet, RuleSpec

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "trafilatura-pages"
_WORD = re.compile(r"(?<!\w)[^\W\d_]{3,}(?!\w)")   # a word of three letters or more, whole (not "PCL" of "PCL5")


def pages() -> list[tuple[str, bytes]]:
    own = [(slug, page(a).encode("utf-8")) for slug, a in ARTICLES.items() if a.paragraphs]
    real = []
    if CORPUS.is_dir():
        files = sorted((CORPUS / "cache").glob("*.html")) + sorted((CORPUS / "eval").glob("*.html"))
        real = [(f.name, f.read_bytes()) for f in random.Random(3).sample(files, 60)]
    return own + real


@pytest.mark.parametrize("name,body", pages(), ids=[name[:40] for name, _ in pages()])
def test_every_term_of_the_main_text_is_in_the_quick_text(name, body):
    document = readable(body)
    assert document is not None, "the test pages are in clear encodings"
    main = extract_text(document, "https://example.org/a")   # what the pipeline extracts
    quick = quick_text(document)
    words = _WORD.findall(main)
    if not words:
        pytest.skip("no main text")
    rng = random.Random(name)
    picked = rng.sample(words, min(40, len(words)))
    phrases = [" ".join(words[i:i + 2]) for i in rng.sample(range(len(words) - 1), min(20, len(words) - 1))]
    compounds = [w[:-2] + "*" for w in picked if len(w) > 6] + ["*" + w[2:] for w in picked if len(w) > 6]
    for term in picked + compounds:     # words of the main text, and their stems and endings: each matches it
        rules = RuleSet([RuleSpec("r", any=(term,))])
        assert rules.match(Article("", main, None, 0.0)), f"{term!r} is taken from the main text, yet misses it"
        assert rules.could_match(quick), f"{term!r} matches the main text but not the quick text"
    for term in phrases:                # two words in a row may stand on either side of punctuation: no phrase
        rules = RuleSet([RuleSpec("r", any=(term,))])
        if rules.match(Article("", main, None, 0.0)):
            assert rules.could_match(quick), f"{term!r} matches the main text but not the quick text"


def test_the_shipped_rules_skip_irrelevant_pages_but_never_relevant_ones():
    from monitor.config import load
    shipped = load(Path(__file__).resolve().parents[1] / "config.toml", environ={}).ruleset
    matched = set()
    for slug, body in pages():
        main = extract_text(readable(body), "https://example.org/a")
        if shipped.match(Article("", main, None, 0.0)):
            matched.add(slug)
            assert shipped.could_match(quick_text(readable(body))), slug
    # the pages the shortcut must never skip were among those checked: our relevant articles in four languages
    assert {"en-chips", "en-huawei", "de-exportkontrollen", "nl-exportcontroles", "fr-huawei"} <= matched, matched
    plain = "".join(f"<p>{p}</p>" for p in ARTICLES["nl-weer"].paragraphs)
    assert not shipped.could_match(quick_text(f"<html><body>{plain}</body></html>"))


def test_the_readable_page_drops_scripts_styles_and_svg_but_not_text():
    body = (b"<html lang='de'><head><title>T</title><style>p{color:red}</style></head><body>"
            b"<script>var huawei = '</p>';</script><p>Export<b>kontrollen</b></p><!-- <script> -->"
            b"<svg><text>Huawei</text></svg><p>Die Liste &amp; mehr</p><SCRIPT type=x>ban</SCRIPT ></body></html>")
    document = readable(body)
    assert "huawei" not in document.lower() and "color" not in document and "ban" not in document
    assert "Export<b>kontrollen</b>" in document and "<!-- <script> -->" in document   # comments stay inert
    assert "<p>Die Liste &amp; mehr</p>" in document
    assert quick_text(document).split("\n")[0] == "Exportkontrollen Die Liste & mehr"
    assert "Export kontrollen" in quick_text(document)   # and split at the inline tag
    # kept as UTF-8 with its mark: it decodes the same with no header, whatever the page declared
    latin = "<html><head><meta charset='iso-8859-1'></head><body><p>Maßnahmen</p></body></html>".encode("latin-1")
    kept = keepable(readable(latin))
    assert "Maßnahmen" in extract_text(kept, "https://example.org/a")


def test_a_page_in_an_unsure_encoding_is_extracted_not_judged():
    latin = ("<html><body><p>" + "Die Maßnahmen gegen Exporte. " * 20 + "</p></body></html>").encode("latin-1")
    assert readable(latin) is None                     # no declaration, not UTF-8: no shortcut
    declared = latin.replace(b"<html>", b'<html><head><meta charset="iso-8859-1"></head>')
    assert "Maßnahmen" in quick_text(readable(declared))


def test_pages_no_rule_can_match_are_kept_but_not_extracted(site, webhook, tmp_path):
    items = [item_for(ARTICLES[s], site) for s in ("en-chips", "nl-weer")]
    url = site.put("/f", rss("f", items), "application/rss+xml")
    rules = '[[rules]]\nname = "chips"\nany = ["licence"]\n'
    config = write_config(tmp_path, [{"name": "f", "url": url}], rules=rules, channels={"hook": webhook.url()})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    rows = dict((title, (text, page, language)) for title, text, page, language in query(
        tmp_path / "monitor.db", "SELECT title, text IS NOT NULL, page IS NOT NULL, language FROM articles"))
    # the chips page could match (it says "licence"): extracted, language detected, text kept;
    # the weather page could not: neither extracted nor detected, the page kept for backtest
    assert rows[ARTICLES["en-chips"].title] == (1, 0, "en")
    assert rows[ARTICLES["nl-weer"].title] == (0, 1, None)
