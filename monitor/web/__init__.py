"""The status page, /metrics and /healthz that ``monitor run`` serves when ``[web] listen`` is set.

settings: the ``[web]`` section, resolved and checked; server: the aiohttp
application and its security; views: the store's rows turned into the page's
JSON; static/: the page itself (HTML, CSS, JS), served by monitor, no CDN.
"""
