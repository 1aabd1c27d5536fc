"""The lexicon query language, pure: text -> a checked syntax tree.

    query   := or
    or      := and ("OR" and)*
    and     := not ("AND" not | "NOT" not)*     `a NOT b` is `a AND NOT b`
    not     := "NOT" not | near
    near    := primary ("NEAR/" n primary)*        at most n words between, either order
    primary := "(" query ")" | term
    term    := one or more words or "quoted phrases" in a row: a phrase

Operators are upper case (a lower-case `or` is a word). Words may hold the wildcards `*` (any run
of letters or digits) and `?` (one character); a wildcard word needs at least two other
characters. Chinese needs no spaces: `保证回报` is the phrase of its four characters.

Checked on parse: NEAR joins terms, ORs of terms or other NEARs (never NOT or AND); every OR branch
and at least one AND branch can match on its own, so no query matches a text just because
something is absent from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dealchat.surveillance.text import pattern_tokens

MAX_NEAR = 50
_LEX = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|(NEAR/(\d+))|([^\s()"]+))')
_KEYWORDS = ("AND", "OR", "NOT")


class QueryError(ValueError):
    """A query that cannot be used, with the reason in words."""


@dataclass(frozen=True)
class Term:
    text: str
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int


Node = Term | And | Or | Not | Near


def term(text: str) -> Term:
    """One word or phrase as a term; its tokens are folded like message text."""
    patterns = tuple(pattern_tokens(text))
    if not patterns:
        raise QueryError(f"{text!r} has no letters, digits or characters to match")
    for pattern in patterns:
        if ("*" in pattern or "?" in pattern) and len(pattern.strip("*?")) < 2:
            raise QueryError(f"wildcard word {pattern!r} needs at least two other characters")
    return Term(" ".join(patterns), patterns)


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs: kind is one of ( ) AND OR NOT NEAR word phrase."""
    out: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _LEX.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"cannot read the query at {text[position:]!r}")
        position = match.end()
        opening, closing, phrase, near, distance, word = match.groups()
        if opening or closing:
            out.append((opening or closing, ""))
        elif near:
            out.append(("NEAR", distance))
        elif phrase is not None:
            out.append(("phrase", phrase))
        elif word in _KEYWORDS:
            out.append((word, ""))
        else:
            out.append(("word", word))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.at = 0

    def peek(self) -> str | None:
        return self.items[self.at][0] if self.at < len(self.items) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            found = self.peek() or "the end"
            raise QueryError(f"expected {kind} but found {found}")
        value = self.items[self.at][1]
        self.at += 1
        return value

    def parse(self) -> Node:
        if not self.items:
            raise QueryError("the query is empty")
        node = self.or_()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek()} (missing AND/OR?)")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.peek() == "OR":
            self.take("OR")
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.peek() in ("AND", "NOT"):  # `a NOT b` reads as `a AND NOT b`
            if self.peek() == "AND":
                self.take("AND")
            items.append(self.not_())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_(self) -> Node:
        if self.peek() == "NOT":
            self.take("NOT")
            return Not(self.not_())
        return self.near()

    def near(self) -> Node:
        node = self.primary()
        while self.peek() == "NEAR":
            distance = int(self.take("NEAR"))
            if distance > MAX_NEAR:
                raise QueryError(f"NEAR/{distance} is too wide (at most NEAR/{MAX_NEAR})")
            node = Near(node, self.primary(), distance)
        return node

    def primary(self) -> Node:
        if self.peek() == "(":
            self.take("(")
            node = self.or_()
            self.take(")")
            return node
        words: list[str] = []
        while self.peek() in ("word", "phrase"):
            words.append(self.items[self.at][1])
            self.at += 1
        if not words:
            raise QueryError(f"expected a word, a phrase or ( but found {self.peek() or 'the end'}")
        return term(" ".join(words))


def parse(text: str) -> Node:
    """The checked syntax tree of a query; QueryError says what is wrong."""
    node = _Parser(text).parse()
    _check(node)
    if not _positive(node):
        raise QueryError("the query matches on absence alone; it needs a term outside NOT")
    return node


def _positional(node: Node) -> bool:
    if isinstance(node, Term | Near):
        return True
    return isinstance(node, Or) and all(_positional(item) for item in node.items)


def _positive(node: Node) -> bool:
    """Can only match when some term is present."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Or):
        return all(_positive(item) for item in node.items)
    if isinstance(node, And):
        return any(_positive(item) for item in node.items)
    return False


def _check(node: Node) -> None:
    if isinstance(node, Near):
        for side in (node.left, node.right):
            if not _positional(side):
                raise QueryError("NEAR joins words, phrases and ORs of them, not AND or NOT")
            _check(side)
    elif isinstance(node, And | Or):
        for item in node.items:
            _check(item)
    elif isinstance(node, Not):
        _check(node.item)


def terms_of(node: Node) -> list[Term]:
    """Every term in the tree, in reading order."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return terms_of(node.item)
    if isinstance(node, Near):
        return terms_of(node.left) + terms_of(node.right)
    return [found for item in node.items for found in terms_of(item)]
