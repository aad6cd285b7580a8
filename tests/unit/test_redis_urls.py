"""REDIS_URL's forms: one server, or Sentinels naming a primary; a bad URL is one clear line."""

from __future__ import annotations

import pytest
from redis.sentinel import SentinelConnectionPool, SentinelManagedSSLConnection

from hotline.cli import main
from hotline.settings import Settings
from queues.connection import (
    RedisUrlError,
    SentinelUrl,
    check_url,
    parse_sentinel_url,
    redis_client,
)


def test_a_sentinel_url_names_the_hosts_the_service_and_the_database():
    assert parse_sentinel_url("redis+sentinel://h1:26379,h2:26380/mymaster/2") == SentinelUrl(
        sentinels=(("h1", 26379), ("h2", 26380)), service="mymaster", db=2
    )


def test_a_port_left_out_is_sentinels_and_a_database_left_out_is_zero():
    target = parse_sentinel_url("redis+sentinel://h1,h2:1/mymaster")
    assert target.sentinels == (("h1", 26379), ("h2", 1))
    assert target.db == 0


def test_passwords_are_percent_decoded_and_kept_apart_from_the_sentinels():
    target = parse_sentinel_url(
        "redis+sentinel://app:p%40ss%2Fw@h1/mymaster/0?sentinel_password=s%26cret"
        "&sentinel_username=watch"
    )
    assert (target.username, target.password) == ("app", "p@ss/w")
    assert (target.sentinel_username, target.sentinel_password) == ("watch", "s&cret")
    assert "p@ss" not in repr(target) and "s&cret" not in repr(target)


def test_a_password_alone_has_no_user():
    target = parse_sentinel_url("redis+sentinel://:secret@h1/mymaster")
    assert (target.username, target.password) == (None, "secret")


def test_ipv6_sentinels_are_written_in_brackets():
    target = parse_sentinel_url("redis+sentinel://[::1]:26380,[fd00::2]/mymaster")
    assert target.sentinels == (("::1", 26380), ("fd00::2", 26379))


def test_rediss_sentinel_means_tls_with_its_options():
    target = parse_sentinel_url(
        "rediss+sentinel://h1/mymaster/0?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=required"
    )
    assert target.tls
    assert dict(target.tls_options) == {"ssl_ca_certs": "/etc/ca.pem", "ssl_cert_reqs": "required"}


def test_the_client_asks_the_named_sentinels_for_the_named_primary():
    client = redis_client(
        "rediss+sentinel://:pw@h1:1,h2:2/svc/3?sentinel_password=sp&ssl_cert_reqs=none",
        socket_timeout=0.5,
    )
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "svc" and pool.is_master
    assert pool.connection_class is SentinelManagedSSLConnection
    assert pool.connection_kwargs["db"] == 3
    assert pool.connection_kwargs["password"] == "pw"
    sentinels = [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]
    assert [(s["host"], s["port"]) for s in sentinels] == [("h1", 1), ("h2", 2)]
    # The Sentinels have their own password, and a Sentinel as slow as a command is given up on.
    assert {s["password"] for s in sentinels} == {"sp"}
    assert {s["socket_timeout"] for s in sentinels} == {0.5}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("redis+sentinel:///mymaster", "names no Sentinel host"),
        ("redis+sentinel://h1:26379", "names no Sentinel service"),
        ("redis+sentinel://h1:port/mymaster", "the port 'port'"),
        ("redis+sentinel://h1:70000/mymaster", "the port '70000'"),
        ("redis+sentinel://h1,,h2/mymaster", "empty Sentinel host"),
        ("redis+sentinel://h1/mymaster/zero", "database 'zero' is not a number"),
        ("redis+sentinel://h1/mymaster/0/1", "more parts"),
        ("redis+sentinel://h1/mymaster?sentinel_pasword=x", "unknown option(s) sentinel_pasword"),
        ("rediss+sentinel://h1/mymaster?ssl_cert_reqs=maybe", "ssl_cert_reqs is 'maybe'"),
        ("http://h1:6379/0", "cannot be read"),
        ("redis://h1:port/0", "cannot be read"),
    ],
)
def test_a_bad_url_is_refused_with_what_is_wrong(url, said):
    with pytest.raises(RedisUrlError, match="REDIS_URL") as caught:
        check_url(url)
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)


def test_plain_urls_still_pass():
    for url in ("redis://:pw@h:6379/1", "rediss://h:6380/0", "unix:///tmp/redis.sock"):
        check_url(url)


def test_a_bad_url_never_quotes_its_password():
    with pytest.raises(RedisUrlError) as caught:
        check_url("redis+sentinel://:hunter2@h1:bad/mymaster")
    assert "hunter2" not in str(caught.value)


def test_the_app_refuses_to_start_on_a_bad_url():
    settings = Settings.from_env({"REDIS_URL": "redis+sentinel://h1:26379"})
    assert any("names no Sentinel service" in line for line in settings.problems())


def test_a_command_given_a_bad_url_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://h1:26379,h2:x/mymaster")
    assert main(["roster", "export"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hotline: REDIS_URL gives Sentinel h2 the port 'x'")
    assert err.count("\n") == 1 and "Traceback" not in err
