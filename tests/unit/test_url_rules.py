"""The suite's URL-rule builders compiled once (tests/fixtures/url_rules.py) build what werkzeug
builds, and are shared only where their bytecode would be the same."""

from __future__ import annotations

from werkzeug.routing import Map, Rule

from tests.fixtures import url_rules


def routes() -> Map:
    """A small map: a plain rule, one with a converter, one with a default."""
    return Map(
        [
            Rule("/voice", endpoint="voice"),
            Rule("/agents/<int:agent>/call", endpoint="call"),
            Rule("/reports", endpoint="reports", defaults={"page": 1}),
            Rule("/reports/<int:page>", endpoint="reports"),
        ]
    )


def test_the_same_rule_in_two_maps_shares_its_builder_and_builds_the_same_urls() -> None:
    first, second = routes(), routes()
    by_endpoint = [(a, b) for a, b in zip(first.iter_rules(), second.iter_rules(), strict=True)]
    for a, b in by_endpoint:
        if a.defaults:
            # A default is baked into the bytecode: compiled for each rule, as werkzeug does.
            assert a._build.__func__ is not b._build.__func__
        else:
            assert a._build.__func__ is b._build.__func__
            assert a._build_unknown.__func__ is b._build_unknown.__func__
    for routes_map in (first, second):
        urls = routes_map.bind("hotline.example")
        assert urls.build("voice") == "/voice"
        assert urls.build("call", {"agent": 7}) == "/agents/7/call"
        assert urls.build("call", {"agent": 7, "lang": "zh"}) == "/agents/7/call?lang=zh"
        assert urls.build("reports") == "/reports"
        assert urls.build("reports", {"page": 3}) == "/reports/3"


def test_the_suite_compiles_through_the_shared_builders() -> None:
    assert Rule._compile_builder is url_rules._compile_once
