"""Test articles, written for these tests, in several languages, and builders for feeds and pages.

Pages carry the boilerplate real news sites have: navigation, a cookie
banner, a "most read" sidebar and a footer. The boilerplate deliberately
mentions the monitored topics, so a test can tell whether it leaked into the
text the rules see.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime


@dataclass(frozen=True)
class Article:
    slug: str
    lang: str
    title: str
    paragraphs: tuple[str, ...]
    summary: str = ""
    rules: tuple[str, ...] = ()          # the rules of RULES_TOML it should match
    age: timedelta = timedelta(hours=3)
    extra: dict = field(default_factory=dict)


ARTICLES = {
    a.slug: a
    for a in [
        Article(
            "en-chips", "en", "US widens export controls on AI chips bound for China",
            (
                "The US Commerce Department on Tuesday widened its export controls on advanced computing chips, "
                "closing loopholes that had let Chinese buyers obtain accelerators through third countries.",
                "Under the new rules, Nvidia will need a licence to ship its H20 processors, a product it had "
                "designed specifically to comply with earlier restrictions. The company said it expects a "
                "charge of several billion dollars in the coming quarter.",
                "The department also added fourteen Chinese companies to the Entity List, which bars American "
                "suppliers from selling to them without government approval.",
                "Industry groups warned that the measures could push customers toward domestic alternatives, "
                "while lawmakers from both parties welcomed the decision as overdue.",
            ),
            summary="Washington tightens the rules for advanced chips.",
            rules=("export-controls", "nvidia-h20"),
        ),
        Article(
            "en-football", "en", "Club handed stadium ban after crowd trouble at derby",
            (
                "The football association has ordered a partial stadium closure for the home side after "
                "fireworks were thrown onto the pitch during Sunday's derby.",
                "The disciplinary panel also fined the club and warned that repeat incidents would lead to "
                "matches being played behind closed doors for the rest of the season.",
                "Supporters' groups said they would appeal, arguing that the whole fan base was being "
                "punished for the actions of a small group.",
                "The club's chairman promised to cooperate with the police to identify those responsible.",
            ),
            summary="A disciplinary panel punishes the home club.",
        ),
        Article(
            "en-huawei", "en", "Germany moves to ban Huawei parts from its 5G core network",
            (
                "The German government has agreed to ban components made by Huawei and ZTE from the core of "
                "the country's 5G mobile networks by the end of next year.",
                "Operators will have to remove the parts from their antennas and transmission equipment in a "
                "second step, according to an agreement reached with Deutsche Telekom, Vodafone and Telefonica.",
                "Officials said the decision followed a long review of the risks posed by suppliers that could "
                "be subject to pressure from a foreign state.",
                "Beijing called the move discriminatory and urged Berlin to provide a fair market environment.",
            ),
            summary="Berlin sets a deadline for network operators.",
            rules=("huawei-ban",),
        ),
        Article(
            "en-summary-only", "en", "Dutch supplier warns of new export controls",
            (),
            summary=(
                "A Dutch equipment maker warned investors on Monday that new export controls on lithography "
                "machines will reduce its sales to Chinese customers next year."
            ),
            rules=("export-controls",),
            extra={"page": None},
        ),
        Article(
            "en-old", "en", "Entity List grows again as Commerce targets chip smugglers",
            (
                "The Commerce Department has added another group of companies to the Entity List, accusing "
                "them of helping to route restricted chips to sanctioned buyers.",
                "The additions include trading firms registered in several Asian financial centres.",
                "Officials said enforcement against transshipment would remain a priority this year.",
            ),
            summary="Another round of additions to the Entity List.",
            age=timedelta(days=5),
        ),
        Article(
            "de-exportkontrollen", "de", "USA verschärfen Technologie-Exportkontrollen gegen China",
            (
                "Die amerikanische Regierung hat am Dienstag neue Technologie-Exportkontrollen angekündigt. "
                "Betroffen sind vor allem Hochleistungschips, die für Rechenzentren in China bestimmt sind.",
                "Nach Angaben des Handelsministeriums dürfen H20-Chips des Herstellers Nvidia künftig nur noch "
                "mit einer Sondergenehmigung ausgeführt werden. Branchenvertreter rechnen mit Umsatzeinbußen "
                "in Milliardenhöhe.",
                "Mehrere chinesische Unternehmen wurden zudem auf eine schwarze Liste gesetzt. Für sie gelten "
                "damit strenge Auflagen beim Kauf amerikanischer Technologie.",
                "Beobachter in Peking kritisierten die Entscheidung scharf und kündigten Gegenmaßnahmen an.",
            ),
            summary="Washington schränkt die Ausfuhr von Hochleistungschips weiter ein.",
            rules=("export-controls", "nvidia-h20", "german-nvidia"),
        ),
        Article(
            "de-bundesliga", "de", "Spitzenspiel endet nach später Aufholjagd unentschieden",
            (
                "Im Spitzenspiel der Bundesliga haben sich die beiden Tabellenführer mit einem Unentschieden "
                "getrennt. Die Gäste lagen zur Pause noch mit zwei Toren zurück.",
                "Nach dem Seitenwechsel drehte die Mannschaft jedoch auf und glich in der Nachspielzeit durch "
                "einen abgefälschten Schuss aus. Der Trainer lobte die Moral seiner Spieler.",
                "Die Fans feierten das Ergebnis wie einen Sieg. Im Stadion herrschte bis zum Schluss eine "
                "ausgelassene Stimmung.",
                "Am kommenden Wochenende empfangen die Gastgeber den Tabellenletzten.",
            ),
            summary="Ein spätes Tor rettet den Gästen einen Punkt.",
        ),
        Article(
            "nl-exportcontroles", "nl", "Kabinet scherpt exportcontroles op chipmachines verder aan",
            (
                "Het kabinet scherpt de exportcontroles op geavanceerde chipmachines verder aan. Fabrikanten "
                "hebben voortaan een vergunning nodig voor de uitvoer van meer typen apparatuur.",
                "De minister van Buitenlandse Handel zei in een brief aan de Tweede Kamer dat de maatregel "
                "nodig is vanwege de nationale veiligheid.",
                "De chipsector reageerde teleurgesteld maar niet verrast. Analisten verwachten dat de omzet in "
                "China volgend jaar flink zal dalen.",
                "Beijing liet weten de maatregel te betreuren en riep Nederland op om eerlijke handel niet te "
                "belemmeren.",
            ),
            summary="Meer chipmachines vergunningplichtig.",
            rules=("export-controls",),
        ),
        Article(
            "nl-weer", "nl", "Eerste nachtvorst van het seizoen verwacht in het oosten",
            (
                "In het oosten van het land kan het komende nacht voor het eerst dit seizoen licht vriezen. "
                "Het KNMI waarschuwt voor gladheid op fietspaden en bruggen.",
                "Overdag blijft het droog met af en toe zon. De temperatuur komt niet hoger dan acht graden.",
                "Later in de week wordt het zachter, maar ook natter. Vanaf donderdag trekken regenbuien over "
                "het land met een stevige zuidwestenwind.",
                "Meteorologen verwachten geen strenge winter, al is het voor zekerheid nog te vroeg.",
            ),
            summary="Kans op gladheid in het oosten.",
        ),
        Article(
            "fr-controles", "fr", "Washington durcit ses contrôles à l'exportation de puces vers la Chine",
            (
                "Les États-Unis ont annoncé mardi un nouveau durcissement de leurs contrôles à l'exportation "
                "visant les semi-conducteurs les plus avancés destinés à la Chine.",
                "Les fabricants américains devront désormais obtenir une licence pour vendre certains "
                "processeurs d'intelligence artificielle à des clients chinois.",
                "Pékin a aussitôt dénoncé une mesure protectionniste et menacé de riposter en limitant ses "
                "propres exportations de métaux rares.",
                "Plusieurs analystes estiment que la décision accélérera les efforts de la Chine pour produire "
                "ses propres puces.",
            ),
            summary="Nouveau tour de vis américain sur les semi-conducteurs.",
            rules=("export-controls",),
        ),
        Article(
            "fr-huawei", "fr", "Huawei : l'interdiction prolongée sur les réseaux européens",
            (
                "Plusieurs pays européens ont décidé de prolonger l'interdiction des équipements Huawei dans "
                "leurs réseaux mobiles de nouvelle génération.",
                "Les opérateurs devront remplacer les antennes concernées d'ici trois ans, une opération "
                "coûteuse que le secteur évalue à plusieurs milliards d'euros.",
                "Le groupe chinois conteste toute menace pour la sécurité et dénonce une décision politique.",
                "La Commission européenne a salué une approche coordonnée entre les États membres.",
            ),
            summary="Les équipements du groupe chinois restent bannis.",
            rules=("huawei-ban",),
        ),
        Article(
            "zh-weather", "zh", "北方多地迎来今冬首场降雪",
            (
                "受冷空气影响，北方多地昨日迎来今冬首场降雪，部分地区气温下降超过十度。",
                "气象部门提醒市民注意防寒保暖，出行时注意交通安全，并合理安排出行时间。",
                "专家表示，今年冬季的气温总体接近常年同期，但阶段性寒潮活动可能较为频繁。",
                "多地供暖部门已经提前启动供暖设施，确保居民温暖过冬。",
            ),
            summary="冷空气带来降温和降雪。",
        ),
    ]
}


def page(article: Article) -> str:
    """A news page: the article inside realistic boilerplate that mentions the monitored topics."""
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{article.lang}">
<head><meta charset="utf-8"><title>{html.escape(article.title)} | Example News</title>
<meta name="viewport" content="width=device-width"></head>
<body>
<div id="cookie-consent" class="cookie-banner"><p>We use cookies to show you personalised adverts,
for instance about Huawei phones and export controls compliance training. Accept all cookies?</p>
<button>Accept</button><button>Reject</button></div>
<header><nav class="main-nav"><ul>
<li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
<li><a href="/tech">Tech: Huawei, Nvidia, H20, Entity List</a></li><li><a href="/sport">Sport</a></li>
</ul></nav></header>
<main><article>
<h1>{html.escape(article.title)}</h1>
<p class="byline">By Example Reporter</p>
{paragraphs}
</article></main>
<aside class="sidebar most-read"><h2>Most read</h2><ol>
<li><a href="/x1">Huawei ban extended as export controls tighten</a></li>
<li><a href="/x2">Neue Exportkontrollen: Nvidia darf H20 nicht mehr liefern</a></li>
<li><a href="/x3">Kabinet: strengere exportcontroles voor chipmachines</a></li>
</ol></aside>
<footer><p>&copy; 2026 Example News. Imprint. Privacy. Advertising: export controls consulting, Huawei.</p></footer>
</body></html>
"""


def rss(channel_title: str, items: list[dict], language: str | None = None) -> str:
    """RSS 2.0. Each item: title, link, guid, description, published (datetime or None)."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{html.escape(channel_title)}</title><link>https://news.example/</link>",
        "<description>test feed</description>",
    ]
    if language:
        out.append(f"<language>{language}</language>")
    for item in items:
        out.append("<item>")
        if item.get("title") is not None:
            out.append(f"<title>{html.escape(item['title'])}</title>")
        if item.get("link"):
            out.append(f"<link>{html.escape(item['link'])}</link>")
        if item.get("guid"):
            out.append(f'<guid isPermaLink="false">{html.escape(item["guid"])}</guid>')
        if item.get("description") is not None:
            out.append(f"<description>{html.escape(item['description'])}</description>")
        if item.get("published"):
            out.append(f"<pubDate>{format_datetime(item['published'])}</pubDate>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out)


def atom(feed_title: str, items: list[dict]) -> str:
    """Atom 1.0. Each item: title, link, guid, description, published."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{html.escape(feed_title)}</title><id>urn:test:{html.escape(feed_title)}</id>",
        "<updated>2026-11-10T08:00:00Z</updated>",
    ]
    for item in items:
        out.append("<entry>")
        out.append(f"<title>{html.escape(item.get('title') or '')}</title>")
        if item.get("link"):
            out.append(f'<link rel="alternate" href="{html.escape(item["link"])}"/>')
        out.append(f"<id>{html.escape(item.get('guid') or item.get('link') or '')}</id>")
        if item.get("published"):
            out.append(f"<updated>{item['published'].isoformat()}</updated>")
        if item.get("description") is not None:
            out.append(f'<summary type="text">{html.escape(item["description"])}</summary>')
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out)


def item_for(article: Article, site, now: datetime | None = None, **overrides) -> dict:
    """The feed item for an article, whose page (if any) is put on ``site``."""
    now = now or datetime.now(timezone.utc)
    path = f"/news/{article.slug}"
    if article.extra.get("page", True) is not None:
        site.put(path, page(article))
    item = {
        "title": article.title,
        "link": site.url(path),
        "guid": f"urn:example:{article.slug}",
        "description": article.summary,
        "published": now - article.age,
    }
    item.update(overrides)
    return item


RULES_TOML = """
[[rules]]
name = "export-controls"
any = ["export controls", "Exportkontrollen", "exportcontroles", "contrôles à l'exportation", "Entity List"]

[[rules]]
name = "nvidia-h20"
any = ["H20", "H200"]
all = ["Nvidia"]

[[rules]]
name = "huawei-ban"
all = ["Huawei"]
any = ["ban", "banned", "Verbot", "verbod", "interdiction"]
none = ["smartphone review"]

[[rules]]
name = "german-nvidia"
any = ["Nvidia"]
languages = ["de"]
"""
