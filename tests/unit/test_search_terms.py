"""How tweet text and queries are cut into search terms (projections/search_terms.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.search_terms import (
    MAX_QUERY,
    MAX_QUERY_TERMS,
    MAX_TERM,
    MAX_TERMS,
    BadQuery,
    analyze,
    normalize,
    parse_query,
    terms,
)


def positions(text: str) -> list[set[str]]:
    return [set(p) for p in analyze(text).positions]


def found(q: str, text: str) -> bool:
    return parse_query(q).matches(text)


def test_words_are_case_folded_and_punctuation_separates() -> None:
    assert positions("Hello, WORLD! (it's) ok...") == [{"hello"}, {"world"}, {"it"}, {"s"}, {"ok"}]


def test_hashtags_answer_to_the_tag_and_the_bare_word() -> None:
    assert positions("I love #Chirp") == [{"i"}, {"love"}, {"#chirp", "chirp"}]
    assert terms("I love #Chirp")[0] == "#chirp"  # hashtags and mentions first: never cut by the cap
    assert found("#chirp", "I love #CHIRP") and found("chirp", "I love #chirp")
    assert not found("#chirp", "I love chirp")


def test_what_is_not_a_hashtag() -> None:
    assert positions("C# a#b #123 &#39;") == [{"c"}, {"a"}, {"b"}, {"123"}, {"39"}]
    assert positions("#1st") == [{"#1st", "1st"}]


def test_mentions_are_their_own_term() -> None:
    assert positions("hi @Ada_L!") == [{"hi"}, {"@ada_l"}]
    assert found("@ADA_L", "hi @ada_l") and not found("@ada_l", "hi ada_l")
    assert not found("ada_l", "hi @ada_l")  # a handle is not a word of the text


def test_an_email_is_not_a_mention() -> None:
    assert positions("mail bob@example.com") == [{"mail"}, {"bob"}, {"example"}, {"com"}]


def test_urls_give_their_host_words_only() -> None:
    text = "see https://www.Example.com/some/path?q=tracking123 and www.chirp.dev/x"
    assert positions(text) == [{"see"}, {"www"}, {"example"}, {"com"}, {"and"}, {"www"}, {"chirp"}, {"dev"}]
    assert found("example.com", text) and found("example", text) and not found("tracking123", text)


def test_diacritics_fold_both_ways() -> None:
    assert found("cafe", "un café noir") and found("café", "a cafe") and found("CAFÉ", "cafe")
    assert positions("Straße Øre naïve Ærø") == [{"strasse"}, {"ore"}, {"naive"}, {"aero"}]
    assert found("ελληνικα", "Ελληνικά") and found("ёлка", "елка")


def test_compatibility_forms_are_folded() -> None:
    fullwidth = "".join(chr(0xFEE0 + ord(c)) if c != " " else "\u3000" for c in "FULL width #") + "タグ"
    assert positions(fullwidth) == [{"full"}, {"width"}, {"#タグ", "タグ"}]
    assert normalize("ﬁ") == "fi"


def test_scripts_with_spaces_are_words() -> None:
    assert positions("Привет, мир!") == [{"привет"}, {"мир"}]
    assert positions("العَرَبِيَّة") == [{"العربية"}]  # harakat folded
    assert positions("हिन्दी भाषा") == [{"हिन्दी"}, {"भाषा"}]  # vowel signs are part of the word
    assert found("ПРИВЕТ", "привет мир") and found("मिर", "मिर") and not found("मर", "मिर")


def test_spaceless_scripts_become_bigrams() -> None:
    assert positions("東京タワー") == [{"東京"}, {"京タ"}, {"タワ"}, {"ワー"}]
    assert set(terms("東京タワー")) == {"東京", "京タ", "タワ", "ワー", "東", "京"}  # lone ideographs too
    assert positions("a 猫 b") == [{"a"}, {"猫"}, {"b"}]
    assert positions("ภาษาไทย")[:2] == [{"ภา"}, {"าษ"}]


def test_spaceless_queries_find_any_part_of_a_sentence() -> None:
    text = "昨日東京タワーに行きました"
    assert found("東京タワー", text) and found("タワー", text) and found("東京", text) and found("猫", "猫が好き")
    assert not found("京都", text) and not found("タワー東京", text)
    assert found("서울", "서울에서 만나요") and found("ไทย", "ภาษาไทย")


def test_kana_voicing_is_not_folded() -> None:
    assert not found("かき", "がき")


def test_terms_are_distinct_capped_and_short() -> None:
    long_word = "x" * 500
    assert terms(long_word) == ("x" * MAX_TERM,)
    assert found(long_word, long_word)
    cjk = "".join(chr(0x4E00 + i) for i in range(280))
    assert len(terms(cjk)) == MAX_TERMS
    assert terms("a a A á") == ("a",)


def test_queries() -> None:
    q = parse_query('Hello "big world" -spam #Chirp @ada_l')
    f = frozenset
    assert q.required == ((f({"hello"}),), (f({"big"}), f({"world"})), (f({"#chirp", "chirp"}),), (f({"@ada_l"}),))
    assert q.excluded == ((f({"spam"}),),)
    assert q.terms == ("hello", "big", "world", "#chirp", "chirp", "@ada_l")


def test_phrases_need_their_words_in_a_row() -> None:
    assert found('"big world"', "a big world") and not found('"big world"', "world is big")
    assert found("big world", "world is big")
    assert found("“big world”", "a big, world")  # typographic quotes; punctuation between is fine
    assert found('"#chirp rocks"', "#chirp rocks") and found('"chirp rocks"', "#chirp rocks")


def test_exclusions() -> None:
    assert found("cats -dogs", "cats only") and not found("cats -dogs", "cats and dogs")
    assert not found('cats -"hot dogs"', "cats and hot dogs") and found('cats -"hot dogs"', "cats and dogs hot")
    assert found("well-known", "a well known fact")  # an inner hyphen is not an exclusion


def test_a_bare_chunk_that_cuts_into_several_terms_is_a_phrase() -> None:
    assert found("don't", "i don't know") and not found("don't", "t don")
    assert found("example.com", "see example.com") and not found("example.com", "com example")


@pytest.mark.parametrize(
    ("q", "why"),
    [("", "empty"), ("   ", "empty"), ("!!! ...", "no term"), ("-spam", "no term"), ("x" * (MAX_QUERY + 1), "limit")],
)
def test_bad_queries(q: str, why: str) -> None:
    with pytest.raises(BadQuery, match=why):
        parse_query(q)


def test_terms_past_the_budget_are_ignored() -> None:
    q = parse_query(" ".join(f"w{i}" for i in range(40)) + " -spam")
    assert sum(len(p) for p in q.required) + sum(len(p) for p in q.excluded) == MAX_QUERY_TERMS
    assert len(q.required) == MAX_QUERY_TERMS and not q.excluded


text_st = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
    | st.sampled_from(list("#@ -\"'.,東京タワー猫ภาษ café ÉCOLE Привет https://x.co/ "))
    , max_size=80,
)  # fmt: skip


@given(text_st)
def test_normalize_is_idempotent(text: str) -> None:
    assert normalize(normalize(text)) == normalize(text)


@given(text_st)
def test_analysis_is_stable_under_normalization(text: str) -> None:
    assert analyze(normalize(text)) == analyze(text)


@given(text_st)
def test_terms_are_bounded(text: str) -> None:
    ts = terms(text)
    assert len(ts) <= MAX_TERMS and len(set(ts)) == len(ts)
    assert all(0 < len(t) <= MAX_TERM + 1 for t in ts)  # + the # or @


@given(st.lists(text_st.filter(lambda t: t.strip()), min_size=1, max_size=6), st.data())
def test_every_chunk_of_a_tweet_finds_it(parts: list[str], data: st.DataObject) -> None:
    """Whatever a user copies out of a tweet (between spaces) and searches for finds that tweet."""
    text = " ".join(parts)
    chunks = [c for c in text.split() if not c.startswith("-") and '"' not in c]
    if not chunks:
        return
    chunk = data.draw(st.sampled_from(chunks))
    try:
        q = parse_query(chunk)
    except BadQuery:
        return
    assert q.matches(text), (chunk, text)
    assert set(q.terms) <= set(analyze(text).all_terms)
