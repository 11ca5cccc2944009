"""Relevance that understands: topics described in sentences, a model that learns, verdicts that explain.

    encoder.py   text -> vector (the multilingual sentence encoder, offline, loaded on first use)
    judge.py     keywords and topics together -> the rules an article matches, with evidence (pure)
    model.py     the trained classifier and its versioned file (pure numpy)
    setup.py     the config's rules and topics -> a Judge
    assess.py    an article -> its matches, with the encoder (shared by check, explain, backtest, evaluate)
    training.py  labelled files and feedback -> examples; training, cross-validation, scores
"""
