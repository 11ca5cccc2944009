"""The alert text as people read it, against golden files: tests/golden/<case>.txt.

Each case is an article (in English, German, Dutch, French, Polish; one whose feed text attacks the
chat it is posted to), judged by the real rules of content.RULES_TOML, rendered by monitor.render.
A golden file holds the alert's title, a line of dashes, then its body, exactly. Any difference fails.

When a change to the alert text is meant, write the files anew and read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_render.py
"""

from __future__ import annotations

import difflib
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import write_config
from content import ARTICLES

from monitor.config import load
from monitor.models import Article, Match, Nearest, Relevance
from monitor.render import alert_text

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))
PUBLISHED = datetime(2026, 11, 10, 7, 45, tzinfo=timezone.utc)
SEPARATOR = "-" * 40

HOSTILE_TITLE = "<!channel> @everyone **Export controls** [click](http://evil.example) `id`\r\nBcc: x@example.org"
HOSTILE_TEXT = ("Officials widened the export controls\x07 today. @here <!here> <b>bold</b> {title} ${HOME} "
                "%(title)s\u2028and the Entity List grows.")

# the Polish story matched by its topic alone: no rule word, a score and the sentence nearest the topic
POLISH_TITLE = "Kolejne chińskie firmy na czarnej liście Waszyngtonu"
POLISH_TEXT = ("Amerykański Departament Handlu dopisał w piątek 24 chińskie przedsiębiorstwa do listy podmiotów, "
               "z którymi amerykańskie firmy nie mogą handlować bez specjalnego zezwolenia.")
POLISH_MATCH = Match("blacklist-stories", (), Relevance(
    "blacklists", 0.6123, 0.35, False,
    Nearest(POLISH_TEXT, "The United States adds Chinese companies to its trade blacklist, the Entity List.", 0.5871)))


def _article(slug: str) -> tuple[str, Article]:
    a = ARTICLES[slug]
    return a.title, Article(a.title, "\n".join(a.paragraphs), a.lang, 0.99)


# case -> (headline, article, link, feed)
CASES = {
    "en-chips": (*_article("en-chips"), "https://news.example/en/chips?id=1", "wire-en"),
    "de-exportkontrollen": (*_article("de-exportkontrollen"), "https://zeitung.example/de/exportkontrollen",
                            "zeitung-de"),
    "nl-exportcontroles": (*_article("nl-exportcontroles"), "https://krant.example/nl/exportcontroles", "krant-nl"),
    "fr-controles": (*_article("fr-controles"), "https://journal.example/fr/controles", "journal-fr"),
    "pl-topic": (POLISH_TITLE, Article(POLISH_TITLE, POLISH_TEXT, "pl", 0.99), "https://gazeta.example/pl/1",
                 "gazeta-pl"),
    "hostile": (HOSTILE_TITLE, Article(HOSTILE_TITLE, HOSTILE_TEXT, None, 0.0), "https://evil.example/@everyone",
                "wire"),
}


@pytest.fixture(scope="module")
def ruleset(tmp_path_factory):
    return load(write_config(tmp_path_factory.mktemp("render"), []), environ={}).ruleset


def rendered(case: str, ruleset) -> str:
    headline, article, link, feed = CASES[case]
    matches = [POLISH_MATCH] if case == "pl-topic" else ruleset.match(article)
    assert matches, f"{case}: no rule matched, nothing to render"
    title, body = alert_text(title=headline, url=link, feed=feed, article=article, published=PUBLISHED,
                             matches=matches)
    return f"{title}\n{SEPARATOR}\n{body}\n"


@pytest.mark.parametrize("case", list(CASES))
def test_the_alert_text_is_the_golden_one(case, ruleset):
    path = GOLDEN / f"{case}.txt"
    text = rendered(case, ruleset)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"no golden file {path}: write it with UPDATE_GOLDEN=1 and read it"
    golden = path.read_text(encoding="utf-8")
    if text != golden:
        diff = "".join(difflib.unified_diff(golden.splitlines(True), text.splitlines(True),
                                            f"golden/{case}.txt", "rendered"))
        pytest.fail(f"the alert text differs from golden/{case}.txt (UPDATE_GOLDEN=1 writes it anew):\n{diff}")


def test_every_golden_file_has_its_case():
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(CASES)
