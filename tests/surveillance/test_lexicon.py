"""The lexicon matcher: words, wildcards, phrases, proximity, boolean logic, exclusions, filters,
case, accents and Chinese in both scripts, with the matched text shown on the original."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealchat.surveillance import query
from dealchat.surveillance.lexicon import Filters, Lexicon, Policy, Rule, Utterance
from dealchat.surveillance.text import tokens


def lexicon(
    *queries: str, exclusions: tuple[str, ...] = (), filters: Filters | None = None
) -> Lexicon:
    rules = tuple(Rule(f"r{i}", text, query.parse(text), "high") for i, text in enumerate(queries))
    policy = Policy(
        "test",
        1,
        rules,
        exclusions=tuple(query.term(text) for text in exclusions),
        filters=filters or Filters(),
    )
    return Lexicon([policy])


def marked(lx: Lexicon, text: str, **where: object) -> list[str]:
    return [hit.highlighted(text) for hit in lx.match(Utterance(text, **where))]  # type: ignore[arg-type]


def test_a_word_matches_whole_words_only_whatever_the_case() -> None:
    lx = lexicon("guarantee")
    assert marked(lx, "We GUARANTEE it") == ["We [[GUARANTEE]] it"]
    assert marked(lx, "guarantees apply") == []
    assert marked(lx, "unguarantee") == []


def test_accents_and_full_width_letters_fold_away() -> None:
    lx = lexicon("garantie", "strasse")
    assert marked(lx, "Une GARANTÍE écrite") == ["Une [[GARANTÍE]] écrite"]
    assert marked(lx, "Ｇａｒａｎｔｉｅ") == ["[[Ｇａｒａｎｔｉｅ]]"]
    # ß casefolds to 'ss': the highlight still covers the original characters
    assert marked(lx, "an der Straße 5") == ["an der [[Straße]] 5"]
    accented = lexicon("crédit garanti")
    assert marked(accented, "credit garanti") == ["[[credit garanti]]"]


def test_wildcards_star_and_question_mark() -> None:
    lx = lexicon("guarant*", "*ateral", "r?sk")
    assert [hit.rule for hit in lx.match(Utterance("guaranteed"))] == ["r0"]
    assert [hit.rule for hit in lx.match(Utterance("collateral"))] == ["r1"]
    assert [hit.rule for hit in lx.match(Utterance("no rusk or risk"))] == ["r2"]
    assert marked(lx, "guarantor") == ["[[guarantor]]"]
    assert lx.match(Utterance("guard rsk")) == []


def test_phrases_need_their_words_in_a_row() -> None:
    lx = lexicon('"call my cell"', "off the record")
    assert marked(lx, "pls call my cell") == ["pls [[call my cell]]"]
    assert marked(lx, "call my old cell") == []
    assert marked(lx, "this is OFF the Record.") == ["this is [[OFF the Record]]."]


def test_near_counts_the_words_between_in_either_order() -> None:
    lx = lexicon("guarantee NEAR/3 return")
    assert marked(lx, "I guarantee you a good return") == ["I [[guarantee you a good return]]"]
    assert marked(lx, "return is what we guarantee") == ["[[return is what we guarantee]]"]
    assert marked(lx, "guarantee you a very good return") == []  # four words between
    chained = lexicon("(call OR ring) NEAR/2 my NEAR/1 (cell OR mobile)")
    assert marked(chained, "ring me on my mobile") == ["[[ring me on my mobile]]"]


def test_and_or_not_with_parentheses() -> None:
    lx = lexicon("(guarantee OR promise) AND (profit OR return) AND NOT disclaimer")
    assert marked(lx, "we promise a profit") == ["we [[promise]] a [[profit]]"]
    assert marked(lx, "we promise a profit (disclaimer applies)") == []
    assert marked(lx, "we promise nothing") == []
    binary = lexicon("insider NOT trading")  # reads as: insider AND NOT trading
    assert marked(binary, "an insider tip") == ["an [[insider]] tip"]
    assert marked(binary, "insider trading course") == []


def test_exclusions_remove_the_occurrences_they_cover() -> None:
    lx = lexicon("guarant*", exclusions=("guaranteed delivery", "bank guarantee"))
    assert marked(lx, "guaranteed delivery by Friday") == []
    assert marked(lx, "a bank guarantee is attached") == []
    assert marked(lx, "guaranteed delivery and a guaranteed profit") == [
        "guaranteed delivery and a [[guaranteed]] profit"
    ]


def test_filters_choose_channels_participants_and_directions() -> None:
    lx = lexicon(
        "bonus",
        filters=Filters(
            channels=frozenset({"webchat", "matrix"}),
            exclude_participants=frozenset({"bot"}),
            directions=frozenset({"in"}),
        ),
    )
    assert lx.match(Utterance("bonus", channel="webchat", participants=frozenset({"c1"})))
    assert not lx.match(Utterance("bonus", channel="slack", participants=frozenset({"c1"})))
    assert not lx.match(Utterance("bonus", channel="webchat", participants=frozenset({"bot"})))
    assert not lx.match(Utterance("bonus", channel="matrix", direction="out"))
    only = lexicon("bonus", filters=Filters(participants=frozenset({"alice"})))
    assert only.match(Utterance("bonus", participants=frozenset({"alice", "s-1"})))
    assert not only.match(Utterance("bonus", participants=frozenset({"bob"})))


def test_chinese_matches_by_character_in_both_scripts() -> None:
    simplified = lexicon("保证 NEAR/4 回报")
    traditional = lexicon("保證 NEAR/4 回報")
    for lx in (simplified, traditional):
        assert marked(lx, "我们保证高回报") == ["我们[[保证高回报]]"]
        assert marked(lx, "我們保證高回報") == ["我們[[保證高回報]]"]
        assert marked(lx, "保证金和回购没有关系但是回报") == []  # 回报 is 9 characters away
    phrase = lexicon("加我微信")
    assert marked(phrase, "请加我微信好吗") == ["请[[加我微信]]好吗"]
    assert marked(phrase, "請加我微信") == ["請[[加我微信]]"]
    assert marked(phrase, "加我的微信") == []


def test_latin_and_chinese_in_one_message() -> None:
    lx = lexicon("whatsapp NEAR/3 联系")
    assert marked(lx, "用WhatsApp聯繫我") == ["用[[WhatsApp聯繫]]我"]


def test_a_term_shared_by_policies_is_found_for_each() -> None:
    first = Policy("one", 1, (Rule("a", "bonus", query.parse("bonus"), "low"),))
    second = Policy("two", 3, (Rule("b", "bonus AND cash", query.parse("bonus AND cash"), "high"),))
    hits = Lexicon([first, second]).match(Utterance("cash bonus"))
    assert [(h.policy, h.version, h.rule, h.spans) for h in hits] == [
        ("one", 1, "a", ((5, 10),)),
        ("two", 3, "b", ((0, 4), (5, 10))),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("(guarantee", "expected )"),
        ("guarantee)", "unexpected"),
        ("NOT guarantee", "absence"),
        ("bonus OR NOT cash", "absence"),
        ("bonus NEAR/3 NOT cash", "expected a word"),
        ("(a AND b) NEAR/2 c", "NEAR joins"),
        ("g*", "two other characters"),
        ("a NEAR/99 b", "too wide"),
        ("!!!", "no letters"),
        ("bonus AND", "expected a word"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(text: str, problem: str) -> None:
    with pytest.raises(query.QueryError, match=re.escape(problem)):
        query.parse(text)


_WORDS = st.text(alphabet="abcdeé", min_size=1, max_size=4)


@given(terms=st.lists(_WORDS, min_size=1, max_size=8), words=st.lists(_WORDS, max_size=12))
def test_single_words_match_exactly_when_a_token_equals_them(
    terms: list[str], words: list[str]
) -> None:
    """The index agrees with the plain definition: a word term hits iff some token folds to it."""
    lx = lexicon(*terms)
    text = " ".join(words)
    folded = {token.text for token in tokens(text)}
    expected = {f"r{i}" for i, term in enumerate(terms) if tokens(term)[0].text in folded}
    assert {hit.rule for hit in lx.match(Utterance(text))} == expected
