"""The naive baseline for bench/run.py: the loop a tutorial would write, run sequentially.

    python bench/naive.py CONFIG FEED_URL...

For each feed: feedparser.parse(url); for each entry, a plain fetch of the
link, trafilatura.extract, langdetect, and one re.search per keyword (the
terms of CONFIG's rules, as plain words).
"""

from __future__ import annotations

import re
import sys
import tomllib
import urllib.request

import feedparser
import trafilatura
from langdetect import DetectorFactory, detect
from langdetect.lang_detect_exception import LangDetectException


def keywords(config: str) -> list[str]:
    with open(config, "rb") as handle:
        rules = tomllib.load(handle).get("rules", [])
    words = set()
    for rule in rules:
        lists = [rule.get("any", []), rule.get("all", [])] + list(rule.get("terms", {}).values())
        words.update(w.strip("*{}\"") for terms in lists for w in terms if not w.startswith("/"))
        words.update(re.findall(r'"([^"*]+)"', rule.get("query", "")))
    return sorted(w for w in words if w)


def main() -> None:
    DetectorFactory.seed = 0
    config, feeds = sys.argv[1], sys.argv[2:]
    patterns = keywords(config)
    alerts = 0
    for url in feeds:
        for entry in feedparser.parse(url).entries:
            with urllib.request.urlopen(entry.link, timeout=60) as response:
                html = response.read()
            text = trafilatura.extract(html) or ""
            try:
                detect(text)
            except LangDetectException:
                pass
            found = [re.search(r"\b" + re.escape(word) + r"\b", text, re.IGNORECASE) for word in patterns]
            alerts += any(found)
    print(alerts)


if __name__ == "__main__":
    main()
