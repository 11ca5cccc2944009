"""End-to-end benchmark: monitor against the reference and a naive pipeline, side by side, in one run.

    python bench/run.py [--feeds 40] [--items 25] [--runs 3] [--hosts N]

Local sites on 127.0.0.1 serve FEEDS feeds of ITEMS items each; every item
links to a real news page from ../shared/corpus (trafilatura's test pages and
the scrapinghub benchmark pages), made unique. Each feed and its pages are a
site of their own (a port of their own), as forty feeds are forty publishers:
monitor's politeness limit of 4 connections per host applies to each. With
--hosts 1 one site serves them all. Then, on the same machine:

* monitor check, first pass (everything new) and second pass (nothing changed),
  with the shipped topic and rules (config.toml), the first pass again with a
  watch list of 5,000 more terms, and once more with the keyword rules alone
  (no topic: the encoder is never loaded);
* the extraction-only reference: the same pages through trafilatura.extract
  in a process pool of the same size, no I/O;
* a naive baseline, the loop a tutorial would write, run sequentially:
  feedparser.parse(url), a plain fetch of each link, trafilatura.extract,
  langdetect, and one re.search per keyword;
* a second pass over 1,000 unchanged feeds (each 304).

The machine is shared and noisy: read the ratios, not the absolute times.
monitor's first passes and the reference run RUNS times, interleaved; the
figures are their medians (peak RSS: the highest).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from content import rss  # noqa: E402
from servers import Site  # noqa: E402

from monitor.workers import default_size  # noqa: E402

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def corpus_pages() -> list[bytes]:
    if not CORPUS.is_dir():
        raise SystemExit(f"the benchmark needs the real pages in {CORPUS}")
    folder = CORPUS / "trafilatura-pages"
    pages = [p.read_bytes()
             for p in sorted((folder / "cache").glob("*.html")) + sorted((folder / "eval").glob("*.html"))]
    scrapinghub = CORPUS / "news-feeds" / "scrapinghub-article-extraction-benchmark" / "html"
    pages += [gzip.decompress(p.read_bytes()) for p in sorted(scrapinghub.glob("*.html.gz"))]
    return pages


def unique(page: bytes, n: int) -> bytes:
    """The same page, told apart by a comment, so that nothing can be cached by content."""
    marker = f"<!-- benchmark copy {n} -->".encode()
    head = re.search(rb"<head[^>]*>", page, re.I)
    return page[: head.end()] + marker + page[head.end():] if head else marker + page


def title_of(page: bytes, n: int) -> str:
    import html

    found = _TITLE.search(page[:100_000])
    title = html.unescape(found.group(1).decode("utf-8", "replace")).strip() if found else ""
    return f"{' '.join(title.split())[:150] or 'Untitled'} ({n})"


_DESCRIPTION = re.compile(
    rb'<meta[^>]+(?:name|property)=["\'](?:og:)?description["\'][^>]*content=["\']([^"\']*)', re.I)


def description_of(page: bytes) -> str:
    """The page's own summary (<meta name=description>), as a feed item's description often is."""
    import html

    found = _DESCRIPTION.search(page[:200_000])
    return " ".join(html.unescape(found.group(1).decode("utf-8", "replace")).split())[:500] if found else ""


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_rss_mb: float = 0.0   # the process and its workers together
    main_rss_mb: float = 0.0   # the process alone


class TreeRss:
    """Samples the RSS of a process and all its descendants; keeps the peak of the sum."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self.main = 0   # the peak of the process itself
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_rss(p) for p in _tree(self.pid)))
            self.main = max(self.main, _rss(self.pid))
            time.sleep(0.02)


def _tree(root: int) -> list[int]:
    """The process and its descendants, read from /proc/PID/task/TID/children (cheap enough to
    sample often); where the kernel has no such file, from every process's parent."""
    children_of = _children if _HAS_CHILDREN else _children_by_parents()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children_of(pid)
    return found


_HAS_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for task in os.listdir(f"/proc/{pid}/task")
                for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        return []   # it ended while we looked


def _children_by_parents():
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    return lambda pid: parents.get(pid, [])


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(command: list[str], *, env: dict | None = None, quiet: bool = True) -> Measured:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if quiet else None,
                            env=env, text=True)
    with TreeRss(proc.pid) as rss:
        _, err = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, cpu, rss.peak / 2**20, rss.main / 2**20)


def shipped_rules() -> str:
    """The shipped config's topics and rules, its model file named by its absolute path."""
    shipped = (ROOT / "config.toml").read_text(encoding="utf-8")
    start = shipped.index("[[topics]]") if "[[topics]]" in shipped else shipped.index("[[rules]]")
    rules = shipped[start:shipped.index("# ---------------------------------------------------------------- Channels")]
    return re.sub(r'(?m)^model = "(?!/)', f'model = "{ROOT}/', rules)


def keywords_only(rules: str) -> str:
    """The same rules without the topic: its section, the rule that is the topic alone, topic and mode keys."""
    rules = rules[rules.index("[[rules]]"):]
    blocks = [b for b in rules.split("[[rules]]\n") if b.strip() and 'name = "sanctions-and-export-controls"' not in b]
    kept = "".join("[[rules]]\n" + b for b in blocks)
    return re.sub(r'(?m)^(topic|mode) = .*\n', "", kept)


def write_config(folder: Path, feed_urls: list[str], extra_rules: str = "", *, topic: bool = True) -> Path:
    rules = shipped_rules() if topic else keywords_only(shipped_rules())
    lines = ["[monitor]", 'database = "monitor.db"', "private_networks = true", 'max_age = "3650d"', "catch_up = true",
             'timeout = "60s"', 'extract_timeout = "60s"', ""]
    for f, url in enumerate(feed_urls):
        lines += ["[[feeds]]", f'name = "feed{f}"', f'url = "{url}"', ""]
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n" + rules + "\n" + extra_rules, encoding="utf-8")
    return path


def watchlist(count: int) -> str:
    """A watch list of made-up company and person names, as sanctions analysts keep (think SDN list)."""
    rng = random.Random(5)
    syllables = ["zhong", "xin", "ke", "tech", "ros", "neft", "ma", "sh", "vo", "lex", "tar", "kor", "del", "mir",
                 "sar", "tan", "bel", "gaz", "prom", "tek", "hua", "lian", "da", "sib", "ural", "pet", "kam", "vin"]
    suffixes = ["Trading", "Holding", "Logistics", "Industrial", "Group", "LLC", "OOO", "Ltd", "Shipping", "Energy"]
    names = set()
    while len(names) < count:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()
        names.add(f"{word} {rng.choice(suffixes)}")
    quoted = ", ".join(f'"{n}"' for n in sorted(names))
    return f'[[rules]]\nname = "watchlist"\nany = [{quoted}]\n'


def _extract(page: bytes) -> int:
    from monitor.extract import extract_text
    return len(extract_text(page, "https://example.org/page"))


def extraction_reference(pages: list[bytes], workers: int) -> Measured:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start_cpu = time.process_time()
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_extract, pages, chunksize=8))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime) + (time.process_time() - start_cpu)
    return Measured(wall, cpu)


def median(runs: list[Measured]) -> Measured:
    return Measured(statistics.median(m.wall for m in runs), statistics.median(m.cpu for m in runs),
                    max(m.peak_rss_mb for m in runs), max(m.main_rss_mb for m in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--items", type=int, default=25)
    parser.add_argument("--hosts", type=int, default=0, help="local sites serving the feeds (default: one per feed)")
    parser.add_argument("--runs", type=int, default=3, help="first passes and reference runs; medians are shown")
    args = parser.parse_args()
    workers = default_size()
    base = corpus_pages()
    count = args.feeds * args.items
    pages = [unique(base[n % len(base)], n) for n in range(count)]
    python = sys.executable
    results: dict[str, Measured] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sites = [stack.enter_context(Site()) for _ in range(min(args.hosts or args.feeds, args.feeds))]
        feed_urls = []
        for f in range(args.feeds):
            site = sites[f % len(sites)]
            for n in range(f * args.items, (f + 1) * args.items):
                site.put(f"/page/{n}", pages[n], "text/html; charset=utf-8")
            items = [{"title": title_of(pages[n], n), "link": site.url(f"/page/{n}"), "guid": f"bench-{n}",
                      "description": description_of(pages[n])} for n in range(f * args.items, (f + 1) * args.items)]
            site.put(f"/feed/{f}", rss(f"feed {f}", items), "application/rss+xml")
            feed_urls.append(site.url(f"/feed/{f}"))
        print(f"{count} pages ({args.feeds} feeds x {args.items} items) from {len(base)} real news pages made "
              f"unique, on {len(sites)} local sites; {workers} worker processes on {os.cpu_count()} cores", flush=True)

        firsts, mores, references, keywords = [], [], [], []
        for run in range(args.runs):   # interleaved, so that a busy spell on the machine hits all four alike
            plain, terms, bare = folder / f"plain{run}", folder / f"terms{run}", folder / f"bare{run}"
            for made in (plain, terms, bare):
                made.mkdir()
            config = write_config(plain, feed_urls)
            firsts.append(run_measured([python, "-m", "monitor", "check", "-q", "--config", str(config)]))
            config_bare = write_config(bare, feed_urls, topic=False)
            keywords.append(run_measured([python, "-m", "monitor", "check", "-q", "--config", str(config_bare)]))
            config_terms = write_config(terms, feed_urls, watchlist(5000))
            mores.append(run_measured([python, "-m", "monitor", "check", "-q", "--config", str(config_terms)]))
            references.append(extraction_reference(pages, workers))
        results["monitor, first pass"] = median(firsts)
        # --force: the feeds are not due again yet, and the second pass is to poll them all (304s)
        results["monitor, second pass"] = run_measured([python, "-m", "monitor", "check", "-q", "--force",
                                                        "--config", str(config)])
        with sqlite3.connect(plain / "monitor.db") as db:
            extracted = db.execute("SELECT count(*) FROM articles WHERE text_source = 'page'").fetchone()[0]
            alerted = db.execute("SELECT count(*) FROM articles WHERE status = 'matched'").fetchone()[0]
        results["monitor, first pass, +5,000 terms"] = median(mores)
        results["monitor, first pass, keywords only"] = median(keywords)
        results["extraction-only reference"] = median(references)
        medians = {"monitor, first pass", "monitor, first pass, +5,000 terms", "monitor, first pass, keywords only",
                   "extraction-only reference"}
        results["naive baseline"] = run_measured(
            [python, str(ROOT / "bench" / "naive.py"), str(ROOT / "config.toml"),
             *feed_urls])

        many = folder / "many"
        many.mkdir()
        site = sites[0]
        small = b"<html><body><p>" + b"A short local notice about the weather. " * 20 + b"</p></body></html>"
        site.put("/small", small, "text/html; charset=utf-8")
        for f in range(1000):
            site.put(f"/many/{f}", rss(f"many {f}", [{"title": f"Notice {f}", "link": site.url("/small"),
                                                       "guid": f"many-{f}", "description": "Weather."}]),
                     "application/rss+xml")
        lines = ["[monitor]", 'database = "monitor.db"', "private_networks = true", ""]
        for f in range(1000):
            lines += ["[[feeds]]", f'name = "many{f}"', f'url = "{site.url(f"/many/{f}")}"', ""]
        (many / "config.toml").write_text("\n".join(lines) + "\n" + shipped_rules(), encoding="utf-8")
        run_measured([python, "-m", "monitor", "check", "-q", "--config", str(many / "config.toml")])
        results["second pass, 1,000 unchanged feeds"] = run_measured(
            [python, "-m", "monitor", "check", "-q", "--force", "--config", str(many / "config.toml")])

    heading = "* median of " + str(args.runs) + " runs"
    print(f"\n{heading:38}{'wall':>9}{'CPU':>9}{'peak RSS, all':>15}{'of which main':>15}")
    for name, m in results.items():
        peak = f"{m.peak_rss_mb:8.0f} MB" if m.peak_rss_mb else ""
        main = f"{m.main_rss_mb:8.0f} MB" if m.main_rss_mb else ""
        mark = " *" if name in medians else ""
        print(f"{name + mark:38}{m.wall:8.1f}s{m.cpu:8.1f}s{peak:>15}{main:>15}")
    first = results["monitor, first pass"]
    reference = results["extraction-only reference"]
    naive = results["naive baseline"]
    more = results["monitor, first pass, +5,000 terms"]
    second = results["second pass, 1,000 unchanged feeds"]
    bare = results["monitor, first pass, keywords only"]
    print(f"\npages extracted by monitor: {extracted} of {count} (for the others no rule could match); "
          f"articles alerted: {alerted}")
    print("\nratios (targets from the issues)")
    print(f"  first pass / extraction-only reference, CPU:  {first.cpu / reference.cpu:6.2f}   (<= 0.75)")
    print(f"  the same, keywords only (no topic):           {bare.cpu / reference.cpu:6.2f}")
    print(f"  first pass / extraction-only reference, wall: {first.wall / reference.wall:6.2f}   (<= 0.6)")
    print(f"  naive baseline / first pass, wall:            {naive.wall / first.wall:6.1f}x  (>= 4x)")
    print(f"  second pass over 1,000 unchanged feeds:       {second.wall:6.2f} s (<= 2 s)")
    print(f"  5,000 rule terms add to the first pass:       {100 * (more.wall / first.wall - 1):+6.1f} % (<= 5 %)")
    print(f"  peak RSS, monitor and its workers:            {first.peak_rss_mb:6.0f} MB (<= 400 MB with the encoder)")
    print(f"  the same, +5,000 terms:                       {more.peak_rss_mb:6.0f} MB")
    print(f"  the same, keywords only:                      {bare.peak_rss_mb:6.0f} MB (<= 300 MB)")


if __name__ == "__main__":
    main()
