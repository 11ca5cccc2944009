"""`monitor explain` and `monitor backtest`, as a rule writer uses them."""

from __future__ import annotations

from datetime import datetime, timezone

from conftest import assert_no_traceback, invoke_monitor, query, write_config
from content import ARTICLES, atom, item_for, page, rss

RULES = """
[[rules]]
name = "chips"
query = "(H20 OR H200) AND Nvidia"

[[rules]]
name = "german-exports"
terms.de = ["*exportkontroll*"]

[[rules]]
name = "huawei"
all = ["Huawei"]
any = ["ban"]
languages = ["en"]
"""


# two rules that tell what text explain judges: the article's last paragraph, and none of the page's
# boilerplate (cookie banner, navigation, "Most read" sidebar, footer; see content.page)
READING_RULES = """
[[rules]]
name = "last-paragraph"
any = ["Gegenmaßnahmen"]

[[rules]]
name = "boilerplate"
any = ["cookies", "Most read", "Imprint", "Sport"]
"""


def test_explain_a_file_shows_verdicts_terms_in_context_and_reasons(tmp_path):
    config = write_config(tmp_path, [], rules=RULES + READING_RULES)
    html = tmp_path / "artikel.html"
    html.write_text(page(ARTICLES["de-exportkontrollen"]), encoding="utf-8")
    result = invoke_monitor("explain", "--config", str(config), str(html))
    assert result.code == 0, result.output
    out = result.stdout
    assert "Language: de (detected, confidence" in out
    # the title the pipeline would use (the feed's: the headline), not the <title> with the site's name
    assert f"Title:    {ARTICLES['de-exportkontrollen'].title}\n" in out
    assert "MATCH    chips" in out and '"H20" in text: ' in out and "dürfen [H20]-Chips" in out
    assert "MATCH    german-exports" in out and "Technologie-[Exportkontrollen]" in out
    assert "no match huawei" in out
    assert "languages: the article is in de; the rule wants en" in out
    assert "\x1b[" not in out                      # piped: plain text, terms marked with [ ]
    # the text judged is the article, to its last paragraph, without the page's boilerplate
    assert "MATCH    last-paragraph" in out and "kündigten [Gegenmaßnahmen] an" in out
    assert "no match boilerplate" in out


def test_explain_in_colour_and_for_one_rule(tmp_path):
    config = write_config(tmp_path, [], rules=RULES)
    html = tmp_path / "a.html"
    html.write_text(page(ARTICLES["en-huawei"]), encoding="utf-8")
    result = invoke_monitor("explain", "--config", str(config), str(html), "--rule", "huawei", "--color")
    assert result.code == 0
    assert "\x1b[" in result.stdout and "chips" not in result.stdout
    assert "MATCH" in result.stdout


def test_explain_a_url_and_a_forced_language(site, tmp_path):
    config = write_config(tmp_path, [], rules=RULES)
    url = site.put("/a", page(ARTICLES["en-huawei"]))
    result = invoke_monitor("explain", "--config", str(config), url, "--language", "de")
    assert result.code == 0, result.output
    assert "Language: de (given with --language)" in result.stdout
    assert "the article is in de; the rule wants en" in result.stdout


def test_explain_says_what_is_wrong(tmp_path, site):
    config = write_config(tmp_path, [], rules=RULES)
    for args, message in [
        (["/no/such/file"], "no such file, and not an http(s) URL"),
        ([str(config), "--rule", "nope"], "no rule named 'nope'"),
        ([str(config), "--language", "german"], "is not a bare ISO 639-1 code"),
    ]:
        result = invoke_monitor("explain", "--config", str(config), *args)
        assert result.code == 2 and message in result.stderr, result.output
        assert_no_traceback(result)
    missing = invoke_monitor("explain", "--config", str(config), site.url("/gone"))
    assert missing.code == 1 and "HTTP 404" in missing.stderr


def test_explain_names_the_failing_clause_of_a_query(tmp_path):
    rules = """
[[rules]]
name = "either"
query = '(Huawei AND Handel) OR (Nvidia AND chip*)'
"""
    config = write_config(tmp_path, [], rules=rules)
    note = tmp_path / "note.txt"
    note.write_text("Export rules for chips were tightened again on Tuesday, officials in Washington said.")
    result = invoke_monitor("explain", "--config", str(config), str(note))
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[-4:] == [
        "no match either",
        "    query: none of its 2 alternatives holds:",
        '      Huawei AND Handel: "Huawei" and "Handel" do not occur',
        '      Nvidia AND chip*: "Nvidia" does not occur',
    ]


def test_explain_plain_text_files(tmp_path):
    config = write_config(tmp_path, [], rules=RULES)
    note = tmp_path / "note.txt"
    note.write_text("Nvidia may again sell the H20 in China, officials said on Tuesday in Washington.")
    result = invoke_monitor("explain", "--config", str(config), str(note))
    assert "MATCH    chips" in result.stdout


def test_backtest_shows_what_a_rule_change_would_do(site, webhook, tmp_path):
    items = [item_for(ARTICLES[s], site) for s in ("en-chips", "en-huawei", "de-exportkontrollen", "nl-weer")]
    url = site.put("/f", rss("f", items), "application/rss+xml")
    before = """
[[rules]]
name = "chips"
query = "H20 AND Nvidia"

[[rules]]
name = "huawei"
any = ["Huawei"]
"""
    config = write_config(tmp_path, [{"name": "f", "url": url}], rules=before, channels={"hook": webhook.url()})
    assert invoke_monitor("check", "--config", str(config)).code == 0
    after = """
[[rules]]
name = "chips"
query = 'H20 AND Nvidia AND title:"AI chips"'

[[rules]]
name = "huawei"
any = ["Huawei"]

[[rules]]
name = "weather"
terms.nl = ["nachtvorst"]
"""
    write_config(tmp_path, [{"name": "f", "url": url}], rules=after, channels={"hook": webhook.url()})
    result = invoke_monitor("backtest", "--config", str(config))
    assert result.code == 0, result.output
    out = result.stdout
    assert "4 articles kept since" in out
    assert "chips: +0 would now alert, -1 would no longer alert (1 matching)" in out
    # the article each change concerns, with its date, language and link
    german, weather = ARTICLES["de-exportkontrollen"], ARTICLES["nl-weer"]
    assert (f"  - {datetime.now(timezone.utc) - german.age:%Y-%m-%d}  de  {german.title}\n"
            f"      {site.url('/news/de-exportkontrollen')}\n") in out, out
    assert (f"  + {datetime.now(timezone.utc) - weather.age:%Y-%m-%d}  nl  {weather.title}\n"
            f"      {site.url('/news/nl-weer')}\n") in out, out
    assert "huawei: no change (1 matching)" in out
    assert "weather: +1 would now alert, -0 would no longer alert" in out
    only = invoke_monitor("backtest", "--config", str(config), "--rule", "weather")
    assert "chips" not in only.stdout and "weather: +1" in only.stdout
    assert invoke_monitor("backtest", "--config", str(config), "--rule", "nope").code == 2
    assert invoke_monitor("backtest", "--config", str(config), "--since", "soon").code == 2


def test_texts_are_kept_compressed_then_pruned(site, tmp_path):
    url = site.put("/f", atom("f", [item_for(ARTICLES["fr-controles"], site)]), "application/atom+xml")
    config = write_config(tmp_path, [{"name": "f", "url": url}], rules=RULES,
                          monitor='private_networks = true\nkeep_text = "7d"\n')
    invoke_monitor("check", "--config", str(config))
    db = tmp_path / "monitor.db"
    (size,), = query(db, "SELECT length(text) FROM articles")
    assert 0 < size < len(" ".join(ARTICLES["fr-controles"].paragraphs).encode())   # kept, compressed
    query(db, "UPDATE articles SET first_seen = first_seen - 8 * 86400")
    invoke_monitor("check", "--config", str(config))
    assert query(db, "SELECT text IS NULL, title FROM articles") == [(1, ARTICLES["fr-controles"].title)]
    assert "0 articles kept" in invoke_monitor("backtest", "--config", str(config), "--since", "30d").stdout
