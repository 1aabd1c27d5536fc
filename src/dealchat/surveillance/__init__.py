"""Surveillance: lexicon policies and pattern rules over every recorded message and order event,
alerts with the matched text and its context, and the review queue."""
