"""The stages of a pass, each with one job, each handing the next a typed value.

    poll.py     FeedPoller: a feed -> Polled (its entries), then its FeedOutcome: conditional GET,
                parsing (in a worker), backoff, failure and recovery notices
    read.py     Reader: an entry -> PageReading (the page's main text, or the feed's own text);
                Languages: text -> Language. explain and backtest read with the same functions
    judge.py    ArticleJudge: a PageReading -> Judged (the article as the rules saw it, its matches),
                with the one judge that explain and backtest use too (monitor.relevance.Assessor)
    compose.py  Composer: Judged -> the Alerts for its channels; a feed's failure and recovery notices
    record.py   Recorder: an entry and everything that follows from it -> the store, in one transaction

monitor.pipeline runs them for each new entry of each feed; monitor.runtime builds them.
"""
