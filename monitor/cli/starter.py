"""init: a commented starter config, to edit rather than to write from nothing."""

from __future__ import annotations

from pathlib import Path

import click

from monitor import config as config_module
from monitor.cli.common import EXIT_CONFIG, _config_option, _fail, cli

STARTER = '''\
# monitor: a starter config. Edit it, then:
#   monitor validate --config {name}     checks it and shows what it sets up
#   monitor check --dry-run --config {name}   shows what would alert, sends nothing
#   monitor test --config {name}         sends a test message to each channel
#   monitor run --config {name}          polls and alerts until stopped
# Every key is explained in README.md ("Configuration reference").

[monitor]
database = "monitor.db"      # next to this file; created by the first check or run
interval = "15m"             # how often each feed is polled (a number and a unit: 30s, 15m, 2h, 1d)
max_age = "2d"               # older entries are recorded but never alerted
private_networks = false     # never fetch article links that point into a private network
catch_up = false             # a new feed's first poll records what it holds as seen; true alerts it too

# One table per feed. name: your label for it; language: a hint when the feed does not say.
[[feeds]]
name = "bbc-business"
url = "https://feeds.bbci.co.uk/news/business/rss.xml"
language = "en"

[[feeds]]
name = "tagesschau-wirtschaft"
url = "https://www.tagesschau.de/wirtschaft/index~rss2.xml"
language = "de"
# interval = "30m"           # this feed's own interval

# One table per rule. A rule matches when any of `any`, all of `all` and none of `none` occur
# (words and "exact phrases"; a trailing * matches any ending). `terms` gives words per language;
# `query` takes AND, OR, NOT, NEAR/n and parentheses instead.
[[rules]]
name = "export-controls"
any = ["export controls", "export ban", "entity list", "sanction*"]
terms = {{ de = ["Exportkontrolle*", "Sanktion*"] }}
# languages = ["en", "de"]   # only articles in these languages
# channels = ["team"]        # only these channels (default: every channel)

# Where alerts go: apprise URLs (https://github.com/caronc/apprise/wiki). Without any channel,
# alerts are printed to standard output. Keep tokens out of this file: ${{VARIABLE}} is read
# from the environment, and `name_file = "path"` reads the URLs from a file.
[channels]
# team = "tgram://${{TELEGRAM_BOT_TOKEN}}/${{TELEGRAM_CHAT_ID}}"
# mail = "mailtos://user:${{MAIL_PASSWORD}}@example.org?to=me@example.org"

# `monitor run` can serve a status page, /metrics and /healthz (off until `listen` is set;
# an address that is not loopback needs a token).
# [web]
# listen = "127.0.0.1:8080"
'''


@cli.command()
@_config_option
def init(config_path: Path | None) -> None:
    """Write a commented starter config (never over an existing file)."""
    path = config_path or config_module.default_config_path()
    if path.exists():
        _fail(EXIT_CONFIG, f"{path} already exists: init writes a new config and leaves this one alone "
                           "(give another path with --config)")
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(STARTER.format(name=path.name))
    except OSError as exc:
        _fail(EXIT_CONFIG, f"cannot write {path}: {exc.strerror or exc}")
    click.echo(f"wrote {path}: edit its feeds, rules and channels, then run `monitor validate --config {path}`")
