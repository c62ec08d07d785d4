"""publisher.http against a hostile server over real HTTP on 127.0.0.1: every misbehaviour ends in a sentence."""

from __future__ import annotations

import logging
import re
import signal
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from publisher.http import Answer, HttpClient, HttpError, make_retry, parse_json
from tests.hostile_server import Exchange, HostileServer, TlsFiles, gzip_of_zeros, make_tls_files

FIX = "check bamboo.url and the network"
WHAT = "the list of deployment projects"
REPRS = re.compile(r"Error\(|Exception\(|<urllib3|<requests|HTTPS?ConnectionPool|Retry\(|object at 0x|Traceback|\\n")
MiB = 1 << 20

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy in the test environment would stand between us and 127.0.0.1."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    s = HostileServer().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(tls_files: TlsFiles) -> Iterator[HostileServer]:
    s = HostileServer(tls=tls_files).start()
    yield s
    s.stop()


Make = Callable[..., HttpClient]


@pytest.fixture
def make() -> Iterator[Make]:
    """HttpClients for a server, with test-sized timeouts and retries, all closed afterwards."""
    made: list[HttpClient] = []

    def build(server: HostileServer, **kwargs: Any) -> HttpClient:
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("retry", make_retry(total=2, backoff=0.01))
        made.append(HttpClient(label=f"Bamboo at {server.url}", fix=FIX, **kwargs))
        return made[-1]

    yield build
    for c in made:
        c.close()


def get(client: HttpClient, server: HostileServer, path: str, **kwargs: Any) -> Answer:
    return client.request("GET", server.url + path, what=WHAT, **kwargs)


def fails(client: HttpClient, server: HostileServer, path: str) -> str:
    """The sentence a GET of `path` fails with, after checking it is one."""
    with pytest.raises(HttpError) as caught:
        get(client, server, path)
    text = str(caught.value)
    assert not REPRS.search(text), text
    assert "\n" not in text and len(text) < 400, text
    return text


def peak_memory(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
    except HttpError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# --- the normal case ---------------------------------------------------------------------------------------------
def test_a_json_answer_is_read_whole_with_its_headers_and_server_time(server: HostileServer, make: Make) -> None:
    server.script("/ok", "json", body=[{"id": 1}], headers={"Date": "Wed, 21 Oct 2015 07:28:00 GMT", "X-Id": "7"})
    client = make(server)
    answer = get(client, server, "/ok", params={"start-index": 0})
    assert (answer.status, answer.retries, parse_json(answer, client.label, WHAT)) == (200, 0, [{"id": 1}])
    assert answer.header("x-id") == answer.header("X-ID") == "7" and answer.header("nope") is None
    assert answer.url == f"{server.url}/ok?start-index=0"
    assert client.server_time == datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert (client.traffic.requests, client.traffic.bytes) == (1, len(answer.body))
    assert server.seen[0].headers["accept"] == "application/json"


def test_a_garbage_date_header_leaves_no_server_time(server: HostileServer, make: Make) -> None:
    server.script("/ok", "json", headers={"Date": "the day after tomorrow"})
    client = make(server)
    get(client, server, "/ok")
    assert client.server_time is None


def test_any_http_status_is_an_answer_not_an_error(server: HostileServer, make: Make) -> None:
    server.script("/missing", "status", status=404, body=b'{"message": "no"}')
    assert get(make(server), server, "/missing").status == 404


# --- 1. the total deadline ---------------------------------------------------------------------------------------
@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_headers_trickled_a_byte_at_a_time_hit_the_deadline(server: HostileServer, make: Make) -> None:
    server.script("/slow", "slow_headers", interval=0.05)  # each read is quick: only the deadline can stop it
    text = fails(make(server, timeout=0.3), server, "/slow")
    assert text == f"Bamboo at {server.url} did not answer {WHAT} within 0.9 s; {FIX}"


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_a_body_trickled_a_byte_at_a_time_hits_the_deadline(server: HostileServer, make: Make) -> None:
    server.script("/slow", "slow_body", interval=0.05)  # with Connection: close, so the socket lives on in the body
    text = fails(make(server, timeout=0.3), server, "/slow")
    assert text == f"Bamboo at {server.url} did not answer {WHAT} within 0.9 s; {FIX}"


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_the_deadline_also_holds_on_a_reused_connection(server: HostileServer, make: Make) -> None:
    server.script("/ok", "json").script("/slow", "slow_headers", interval=0.05)
    client = make(server, timeout=0.3)
    get(client, server, "/ok")
    assert "within 0.9 s" in fails(client, server, "/slow")
    assert server.seen[0].conn == server.seen[1].conn  # keep-alive: the slow answer came on the pooled connection


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_a_half_open_server_times_out(server: HostileServer, make: Make) -> None:
    server.script("/hang", "half_open")
    text = fails(make(server, timeout=0.3), server, "/hang")
    assert re.fullmatch(rf"Bamboo at {server.url} did not answer {WHAT} within 0\.[39] s; {FIX}", text), text


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_the_deadline_covers_tls_too(tls_server: HostileServer, tls_files: TlsFiles, make: Make) -> None:
    tls_server.script("/slow", "slow_headers", interval=0.05)
    text = fails(make(tls_server, timeout=0.3, verify=str(tls_files.ca)), tls_server, "/slow")
    assert text == f"Bamboo at {tls_server.url} did not answer {WHAT} within 0.9 s; {FIX}"


# --- 2. retries stay bounded -------------------------------------------------------------------------------------
def test_a_retry_after_longer_than_the_deadline_returns_the_answer_at_once(server: HostileServer, make: Make) -> None:
    server.script("/busy", "status", status=503, retry_after="99999")
    answer = get(make(server, retry=make_retry(total=5)), server, "/busy")
    assert (answer.status, answer.retries, server.requests) == (503, 0, 1)


@pytest.mark.parametrize("retry_after", ["0", "soon", "9" * 5000, None])
def test_5xx_and_429_are_retried_and_then_answered(server: HostileServer, make: Make, retry_after: str | None) -> None:
    code = 429 if retry_after else 503
    server.script("/busy", "status", status=code, retry_after=retry_after)
    client = make(server)
    answer = get(client, server, "/busy")
    assert (answer.status, answer.retries, server.requests, client.traffic.requests) == (code, 2, 3, 3)


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_waits_between_retries_fit_in_the_deadline(server: HostileServer, make: Make) -> None:
    server.script("/busy", "status", status=503, retry_after="1")
    answer = get(make(server, timeout=0.5, retry=make_retry(total=10)), server, "/busy")  # deadline 1.5 s
    assert answer.status == 503 and answer.retries < 2 and server.requests == answer.retries + 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried_then_said(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    client = HttpClient(label=f"Bamboo at {url}", fix=FIX, retry=make_retry(total=3, backoff=0.01))
    caplog.set_level(logging.DEBUG, logger="fdc.http")
    with pytest.raises(HttpError) as caught:
        client.request("GET", url + "/rest", what=WHAT)
    assert str(caught.value) == f"cannot reach Bamboo at {url}: connection refused; {FIX}"
    [line] = [r.getMessage() for r in caplog.records if r.name == "fdc.http"]
    assert re.fullmatch(r"GET /rest: failed, 0 bytes, \d+ ms, 3 retries", line), line
    client.close()


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_backoff_longer_than_the_deadline_ends_with_the_real_reason() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    client = HttpClient(label=f"Bamboo at {url}", fix=FIX, timeout=0.2, retry=make_retry(total=10, backoff=60))
    with pytest.raises(HttpError, match=re.escape(f"cannot reach Bamboo at {url}: connection refused; {FIX}")):
        client.request("GET", url + "/rest", what=WHAT)
    client.close()


def test_a_name_that_does_not_resolve() -> None:
    client = HttpClient(label="Bamboo at http://fdc-test.invalid", fix=FIX, retry=make_retry(total=0))
    with pytest.raises(
        HttpError, match=re.escape(f"cannot reach Bamboo at http://fdc-test.invalid: name not found; {FIX}")
    ):
        client.request("GET", "http://fdc-test.invalid/rest", what=WHAT)
    client.close()


# --- 3. the body cap, after decompression ------------------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True])
def test_a_gzip_bomb_costs_bounded_memory(server: HostileServer, make: Make, chunked: bool) -> None:
    gzip_of_zeros(1 << 30)  # built before measuring: 1 GiB of zeros, about 1 MB on the wire
    server.script("/bomb", "gzip_bomb", chunked=chunked)
    client = make(server, max_bytes=MiB)
    assert peak_memory(lambda: get(client, server, "/bomb")) < 16 * MiB
    assert fails(client, server, "/bomb") == f"Bamboo at {server.url} sent more than 1 MiB for {WHAT}"


def test_a_gzip_bomb_stops_at_the_default_16_mib(server: HostileServer, make: Make) -> None:
    server.script("/bomb", "gzip_bomb")
    assert fails(make(server), server, "/bomb") == f"Bamboo at {server.url} sent more than 16 MiB for {WHAT}"


def test_an_endless_chunked_body_costs_bounded_memory(server: HostileServer, make: Make) -> None:
    server.script("/endless", "endless")
    client = make(server, max_bytes=MiB)
    assert peak_memory(lambda: get(client, server, "/endless")) < 16 * MiB
    assert fails(client, server, "/endless") == f"Bamboo at {server.url} sent more than 1 MiB for {WHAT}"


def test_a_declared_length_over_the_cap_is_refused_before_reading(server: HostileServer, make: Make) -> None:
    server.script("/huge", "huge", size=1 << 40)
    assert (
        fails(make(server, max_bytes=MiB), server, "/huge") == f"Bamboo at {server.url} sent more than 1 MiB for {WHAT}"
    )


# --- 4. broken answers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "sentence"),
    [
        ("broken_chunked", "Bamboo at {url} sent a broken response for {what} (broken chunked encoding)"),
        ("bad_gzip", "Bamboo at {url} sent a broken response for {what} (bad gzip)"),
        ("redirect", "Bamboo at {url} redirects in a loop for {what}; {fix}"),
        ("close", "Bamboo at {url} gave no answer to {what} (the connection closed without an answer); {fix}"),
        ("not_http", "Bamboo at {url} did not answer {what} in HTTP; {fix}"),
    ],
)
def test_broken_answers_are_sentences(server: HostileServer, make: Make, script: str, sentence: str) -> None:
    server.script("/x", script)
    assert fails(make(server), server, "/x") == sentence.format(url=server.url, what=WHAT, fix=FIX)


def test_a_connection_reset_in_the_middle_of_the_body(server: HostileServer, make: Make) -> None:
    server.script("/reset", "reset")
    assert "(connection reset)" in fails(make(server), server, "/reset")


def test_a_redirect_loop_stops_after_5(server: HostileServer, make: Make) -> None:
    server.script("/loop", "redirect")
    fails(make(server), server, "/loop")
    assert server.requests == 6


def test_a_redirect_body_is_not_read(server: HostileServer, make: Make) -> None:
    def endless_redirect(ex: Exchange) -> bool:
        ex.send(ex.head(302, {"Location": "/ok", "Transfer-Encoding": "chunked", "Content-Encoding": "gzip"}))
        bomb = gzip_of_zeros(1 << 30)
        for _ in range(100):  # 100 GiB once decompressed, if the client were to read it
            if not ex.send(f"{len(bomb):x}\r\n".encode() + bomb + b"\r\n"):
                break
        return False

    server.route("/moved", endless_redirect).script("/ok", "json")
    assert get(make(server, timeout=5), server, "/moved").url == f"{server.url}/ok"


def test_a_redirect_to_another_host_drops_every_token_header(make: Make, server: HostileServer) -> None:
    with HostileServer() as other:
        other.script("/ok", "json")
        server.script("/moved", "redirect", location=f"{other.url}/ok")
        client = make(server, headers={"Authorization": "Bearer s3cret", "PRIVATE-TOKEN": "t0ken"})
        assert get(client, server, "/moved", headers={"X-Api-Key": "k3y"}).url == f"{other.url}/ok"
        assert {"authorization", "private-token", "x-api-key"} <= server.seen[0].headers.keys()
        assert not {"authorization", "private-token", "x-api-key"} & other.seen[0].headers.keys()


def test_an_invalid_address_is_a_sentence(make: Make, server: HostileServer) -> None:
    with pytest.raises(HttpError, match=re.escape(f"the address of {WHAT} at Bamboo at {server.url} is not valid")):
        make(server).request("GET", "http://[::1/rest", what=WHAT)


# --- 5. verify wins over the environment -------------------------------------------------------------------------
def test_verify_false_wins_over_a_ca_bundle_in_the_environment(
    tls_server: HostileServer, tls_files: TlsFiles, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tls_files.other_ca))
    tls_server.script("/ok", "json")
    assert get(make(tls_server, verify=False), tls_server, "/ok").status == 200


def test_a_ca_bundle_path_wins_over_the_environment(
    tls_server: HostileServer, tls_files: TlsFiles, make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.other_ca))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tls_files.other_ca))
    tls_server.script("/ok", "json")
    assert get(make(tls_server, verify=str(tls_files.ca)), tls_server, "/ok").status == 200


@pytest.mark.parametrize("verify", ["system", "other"])
def test_an_untrusted_certificate_is_the_tls_sentence(
    tls_server: HostileServer, tls_files: TlsFiles, make: Make, monkeypatch: pytest.MonkeyPatch, verify: str
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    tls_server.script("/ok", "json")
    client = make(tls_server, verify=True if verify == "system" else str(tls_files.other_ca))
    text = fails(client, tls_server, "/ok")
    assert text.startswith(f"TLS verification failed for Bamboo at {tls_server.url} (")
    assert text.endswith("): set bamboo.verify to the path of your CA bundle (or false to skip verification)")
    assert tls_server.requests == 0  # and not retried: nothing got through


def test_a_missing_ca_bundle_is_named(tls_server: HostileServer, make: Make, tmp_path: Path) -> None:
    text = fails(make(tls_server, verify=str(tmp_path / "ca.pem")), tls_server, "/ok")
    assert text == (
        f"the CA bundle {tmp_path / 'ca.pem'} for Bamboo at {tls_server.url} does not exist: set bamboo.verify "
        "to the path of your CA bundle (or false to skip verification)"
    )


# --- 6. cancel() -------------------------------------------------------------------------------------------------
STOPPED = f"reading {WHAT} from Bamboo at {{url}} was stopped"


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_cancel_from_another_thread_stops_a_blocked_request(server: HostileServer, make: Make) -> None:
    server.script("/hang", "half_open").script("/ok", "json")
    client = make(server, timeout=30)
    timer = threading.Timer(0.2, client.cancel)
    timer.start()
    assert fails(client, server, "/hang") == STOPPED.format(url=server.url)
    timer.join()
    seen = server.requests
    assert fails(client, server, "/ok") == STOPPED.format(url=server.url)
    assert server.requests == seen  # refused at once, without asking the server


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
@pytest.mark.timeout(10)
def test_cancel_from_a_signal_handler_on_the_blocked_thread(server: HostileServer, make: Make) -> None:
    assert threading.current_thread() is threading.main_thread()
    server.script("/hang", "half_open")
    client = make(server, timeout=30)
    previous = signal.signal(signal.SIGALRM, lambda *_: client.cancel())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        assert fails(client, server, "/hang") == STOPPED.format(url=server.url)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.timeout(10)  # a hang guard, not a timing assertion
def test_cancel_ends_a_wait_between_retries(server: HostileServer, make: Make) -> None:
    server.script("/busy", "status", status=503, retry_after="20")
    client = make(server, timeout=10)  # deadline 30 s: the 20 s wait fits, and cancel() must cut it short
    timer = threading.Timer(0.3, client.cancel)
    timer.start()
    assert fails(client, server, "/busy") == STOPPED.format(url=server.url)
    timer.join()


# --- 7. logs -----------------------------------------------------------------------------------------------------
def test_one_debug_line_per_request_without_host_or_secrets(
    server: HostileServer, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("/rest/ok", "json", body=[1, 2, 3])
    client = make(server, headers={"Authorization": "Bearer s3cret"}, basic_auth=None)
    caplog.set_level(logging.DEBUG)
    answer = get(client, server, "/rest/ok", params={"start": 0, "private_token": "t0ken"})
    lines = [r for r in caplog.records if r.name == "fdc.http"]
    assert len(lines) == 1
    assert re.fullmatch(
        rf"GET /rest/ok\?start=0&private_token=\*\*\*: 200, {len(answer.body)} bytes, \d+ ms, 0 retries",
        lines[0].getMessage(),
    )
    everything = " ".join(r.getMessage() for r in caplog.records)
    assert "s3cret" not in everything and "t0ken" not in everything and "127.0.0.1" not in lines[0].getMessage()


def test_credentials_in_the_url_are_stripped_and_never_shown(
    server: HostileServer, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    server.script("/ok", "json")
    client = make(server)
    caplog.set_level(logging.DEBUG)
    answer = client.request("GET", server.url.replace("//", "//admin:pa55word@") + "/ok", what=WHAT)
    assert answer.url == f"{server.url}/ok" and "authorization" not in server.seen[0].headers
    refused = f"http://admin:pa55word@127.0.0.1:{closed_port()}/ok"
    with pytest.raises(HttpError) as caught:
        client.request("GET", refused, what=WHAT)
    assert "pa55word" not in str(caught.value) + " ".join(r.getMessage() for r in caplog.records)


# --- 9. threads --------------------------------------------------------------------------------------------------
def test_six_threads_share_one_client(server: HostileServer, make: Make) -> None:
    server.script("/ok", "json", body=list(range(100)))
    client = make(server, pool_size=6)
    sizes: list[int] = []

    def read() -> None:
        sizes.extend(len(get(client, server, "/ok").body) for _ in range(20))

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sizes) == server.requests == client.traffic.requests == 120
    assert client.traffic.bytes == sum(sizes)


# --- parse_json --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "sentence"),
    [
        ("deep_json", "Bamboo at {url} sent {what} nested too deeply to read"),
        ("nan_json", "Bamboo at {url} sent {what} with the constant NaN, which cannot be read"),
        ("big_number", "Bamboo at {url} sent {what} with a number of too many digits, which cannot be read"),
        ("bad_utf8", "Bamboo at {url} sent {what} as text that is not valid UTF-8"),
        (
            "html",
            "Bamboo at {url} answered {what} with an HTML page (HTTP 200) instead of JSON: a login page or a proxy "
            "error?",
        ),
    ],
)
def test_bodies_that_are_not_good_json(server: HostileServer, make: Make, script: str, sentence: str) -> None:
    server.script("/x", script)
    client = make(server)
    with pytest.raises(HttpError) as caught:
        parse_json(get(client, server, "/x"), client.label, WHAT)
    assert str(caught.value) == sentence.format(url=server.url, what=WHAT)


def test_text_that_is_not_json_names_its_content_type(server: HostileServer, make: Make) -> None:
    server.script("/x", "json", body=b"Service paused", headers={"Content-Type": "text/plain"})
    client = make(server)
    with pytest.raises(HttpError) as caught:
        parse_json(get(client, server, "/x"), client.label, WHAT)
    assert str(caught.value) == (
        f"Bamboo at {server.url} answered {WHAT} with text/plain (HTTP 200) that is not JSON "
        "(expecting value at line 1 column 1)"
    )


def test_infinity_is_refused_too(server: HostileServer, make: Make) -> None:
    server.script("/x", "json", body=b'{"a": 1e999, "b": -Infinity}')
    client = make(server)
    with pytest.raises(HttpError, match=r"with the number 1e999, which cannot be read$"):
        parse_json(get(client, server, "/x"), client.label, WHAT)
