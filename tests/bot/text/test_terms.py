from bot.text.terms import MAX_TERMS_PER_MESSAGE, query_terms, stem, term_counts, terms


def test_words_are_lowered_stemmed_and_stop_words_dropped() -> None:
    assert terms("How often do we ROTATE the staging database passwords?") == [
        "often",
        "rotat",
        "stag",
        "databas",
        "password",
    ]


def test_inflections_meet() -> None:
    assert {stem(w) for w in ("rotate", "rotated", "rotating", "rotates")} == {"rotat"}
    assert stem("policies") == stem("policy")
    assert stem("stopped") == stem("stop")
    assert stem("pass") == "pass"
    assert stem("2024") == "2024"


def test_markup_and_links_are_not_words() -> None:
    assert terms("<@U123> see <https://x.example/a|the doc> and https://y.example/b ```code here```") == [
        "see"
    ]


def test_counts_and_query_terms() -> None:
    assert term_counts("deploy deploy deploys")["deploy"] == 3
    assert query_terms("deploy the deploys, deploy!") == ["deploy"]
    assert len(terms("word " * 1000)) == MAX_TERMS_PER_MESSAGE
    assert terms("it's a") == []
