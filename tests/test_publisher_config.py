"""Publisher config: CONTRACT.md's keys, defaults, and one clear line per problem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from common.config import ConfigError
from publisher.config import load
from tests.run_fdc import fdc_command

GOOD = """\
timezone: Europe/Berlin
days: [friday]
tracking_start: 2026-01-01
topic_prefix: friday-deploy
poll_interval: 5m
state_file: {state}
bamboo:
  url: https://bamboo.example.com/
  token: abc123-secret
  environments: ["production", "prod-.*"]
  projects: [".*"]
  verify: true
  timeout: 10
mqtt:
  host: localhost
  port: 1883
  username: publisher
  password: mqtt-secret
  client_id: fdc-test
homeassistant:
  enabled: true
  discovery_prefix: homeassistant
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "publisher.yaml"
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(write(tmp_path, text))
    return e.value.problems


def test_full_contract_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FDC_BAMBOO_TOKEN", "FDC_MQTT_PASSWORD", "FDC_MQTT_USERNAME"):
        monkeypatch.delenv(var, raising=False)
    c = load(write(tmp_path, GOOD.format(state=tmp_path / "s.json")))
    assert (c.timezone, c.days, str(c.tracking_start), c.poll_interval) == (
        "Europe/Berlin",
        ("friday",),
        "2026-01-01",
        300,
    )
    b = c.section("bamboo")
    assert b["url"] == "https://bamboo.example.com" and b["token"] == "abc123-secret"
    assert b["environments"] == ["production", "prod-.*"] and c.timeout == 10 and c.source == "bamboo"
    assert (c.mqtt.host, c.mqtt.port, c.mqtt.username, c.mqtt.client_id) == ("localhost", 1883, "publisher", "fdc-test")
    assert "abc123-secret" not in repr(c) and "mqtt-secret" not in repr(c)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    c = load(write(tmp_path, "bamboo: {url: 'http://b:8085', token: t}\n"))
    assert c.timezone == "America/Los_Angeles" and c.timezone_from_machine
    assert c.days == ("friday",) and c.topic_prefix == "friday-deploy" and c.poll_interval == 300
    b = c.section("bamboo")
    assert b["environments"] == ["production"] and b["projects"] == [".*"] and b["verify"] is True
    assert c.mqtt.host == "localhost" and c.mqtt.port == 1883 and c.mqtt.client_id.startswith("fdc-publisher-")
    assert c.homeassistant and c.discovery_prefix == "homeassistant" and c.tracking_start is None


def test_environment_secrets_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FDC_BAMBOO_TOKEN", "from-env")
    monkeypatch.setenv("FDC_MQTT_PASSWORD", "mqtt-env")
    c = load(write(tmp_path, "bamboo: {url: 'http://b', token: from-file}\nmqtt: {username: u, password: p}\n"))
    assert c.section("bamboo")["token"] == "from-env" and c.mqtt.password == "mqtt-env"


def test_unknown_keys_are_typos_with_their_path(tmp_path: Path) -> None:
    got = problems(tmp_path, "timezon: UTC\nbamboo: {url: 'http://b', token: t, enviroments: [prod]}\n")
    assert got == [
        "bamboo.enviroments: unknown key (did you mean 'environments'?)",
        "timezon: unknown key (did you mean 'timezone'?)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timezone: Mars/Olympus\nbamboo: {url: 'http://b', token: t}\n",
         "timezone: unknown timezone 'Mars/Olympus': use an IANA name like 'Europe/Berlin'"),
        ("bamboo: {url: 'http://b', token: t, environments: ['prod(']}\n",
         "bamboo.environments: item 0: invalid regular expression 'prod(' "
         "(missing ), unterminated subpattern at position 4)"),
        ("days: [fryday]\nbamboo: {url: 'http://b', token: t}\n",
         "days: 'fryday' is not a weekday: use names like friday or saturday"),
        ("poll_interval: soon\nbamboo: {url: 'http://b', token: t}\n",
         "poll_interval: 'soon' is not a duration: use seconds (300) or a string like '5m' or '1h'"),
        ("bamboo: {url: 'http://b', token: t}\nmqtt: {port: 99999}\n", "mqtt.port: 99999 is not a TCP port (1-65535)"),
        ("bamboo: {url: 'bamboo.example.com', token: t}\n",
         "bamboo.url: 'bamboo.example.com' is not an http(s) URL like https://bamboo.example.com"),
        ("tracking_start: last year\nbamboo: {url: 'http://b', token: t}\n",
         "tracking_start: 'last year' is not a date: use YYYY-MM-DD"),
        ("timezone: UTC\n",
         "no source configured: add at least one of `bamboo:`, `github:`, `gitlab:`, `file:`, `webhooks:` "
         "(e.g. `bamboo:` with its url and token)"),
        ("bamboo: {url: 'https://ci:hunter2@b.example', token: t}\n",
         "bamboo.url: has a username or password in it: remove them from the URL and put the credentials in their "
         "own keys (or FDC_* environment variables)"),
        ("bamboo: {url: 'https://ci:hunter2@b', token: t}\n",  # not even a valid host: still not repeated
         "bamboo.url: has a username or password in it: remove them from the URL and put the credentials in their "
         "own keys (or FDC_* environment variables)"),
        ("bamboo: {url: 'https://b.example/rest/api/latest', token: t}\n",
         "bamboo.url: ends with an API path: remove it, and give the address you open it at, like "
         "https://bamboo.example.com"),
        ("bamboo: {url: 'http://b', token: 'abc def'}\n",
         "bamboo.token: has spaces, line breaks or control characters inside it: paste the value again"),
        ("timezone: Europe/Berln\nbamboo: {url: 'http://b', token: t}\n",
         "timezone: unknown timezone 'Europe/Berln' (did you mean 'Europe/Berlin'?): use an IANA name like "
         "'Europe/Berlin'"),
        ("bamboo: {url: 'http://b'}\n",
         "bamboo: no credentials: set bamboo.token (or FDC_BAMBOO_TOKEN) to a personal access token, "
         "or bamboo.username and bamboo.password"),
        ("bamboo: {url: 'http://b', username: ci}\n",
         "bamboo.password: required with bamboo.username (or set FDC_BAMBOO_PASSWORD)"),
        ("bamboo: {url: 'http://b', token: t, verify: /no/such/ca.pem}\n",
         "bamboo.verify: '/no/such/ca.pem' is neither true/false nor the path of an existing CA bundle"),
        ("topic_prefix: 'a/#'\nbamboo: {url: 'http://b', token: t}\n",
         "topic_prefix: 'a/#' is not a usable topic prefix: no '#', '+', leading/trailing or double '/'"),
    ],
)  # fmt: skip
def test_one_clear_line_per_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    for var in ("FDC_BAMBOO_TOKEN", "FDC_BAMBOO_USERNAME", "FDC_BAMBOO_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    assert problems(tmp_path, text) == [expected]


def test_bad_yaml_names_its_line(tmp_path: Path) -> None:
    got = problems(tmp_path, "bamboo:\n  url: http://b\n  token: [unclosed\n")
    assert len(got) == 1 and got[0].startswith("line 4, column 1: invalid YAML")


def test_check_config_cli_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "timezon: UTC\nbamboo: {url: 'http://b', token: secret-token-value}\nmqtt: {port: x}\n")
    r = subprocess.run(fdc_command("check-config", str(path)), capture_output=True, text=True)
    assert r.returncode == 2
    assert "timezon: unknown key (did you mean 'timezone'?)" in r.stderr
    assert "mqtt.port: 'x' is not a TCP port (1-65535)" in r.stderr
    assert "secret-token-value" not in r.stderr + r.stdout and "Traceback" not in r.stderr
    ok = write(tmp_path, "bamboo: {url: 'http://b', token: t}\n")
    r = subprocess.run(fdc_command("check-config", str(ok)), capture_output=True, text=True)
    assert (r.returncode, r.stdout.strip()) == (0, f"{ok}: valid publisher config")


def test_bamboo_and_file_together(tmp_path: Path) -> None:
    c = load(write(tmp_path, "bamboo: {url: 'http://b', token: t}\nfile: {path: d.yaml}\n"))
    assert c.source == "bamboo+file" and [name for name, _ in c.sections] == ["bamboo", "file"]
    assert set(c.source_fingerprints()) == {"bamboo", "file"}


def test_a_token_from_the_environment_loses_its_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FDC_BAMBOO_TOKEN", "  tok-123\n")
    c = load(write(tmp_path, "bamboo: {url: 'http://b'}\n"))
    assert c.section("bamboo")["token"] == "tok-123"


def test_a_source_secret_in_the_environment_does_not_configure_that_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FDC_BAMBOO_TOKEN", "tok")
    c = load(write(tmp_path, "file: {path: d.yaml}\n"))
    assert c.source == "file"


def test_check_config_warns_of_likely_mistakes(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    path = write(
        tmp_path, f"timezone: CET\nstate_file: {locked}/sub/state.json\nbamboo: {{url: 'http://b', token: t}}\n"
    )
    r = subprocess.run(fdc_command("check-config", str(path)), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "timezone: 'CET' is an abbreviation or a fixed offset" in r.stdout + r.stderr
    if os.geteuid() != 0:  # root can write anywhere
        assert f"state_file: the folder {locked}/sub cannot be created or written" in r.stdout + r.stderr


def test_check_config_never_repeats_credentials_in_a_url(tmp_path: Path) -> None:
    path = write(tmp_path, "bamboo: {url: 'https://ci:hunter2@bamboo.example.com', token: t}\n")
    r = subprocess.run(fdc_command("check-config", str(path)), capture_output=True, text=True)
    assert r.returncode == 2 and "hunter2" not in r.stdout + r.stderr and "bamboo.url" in r.stderr


def test_legacy_fingerprint_is_the_one_version_0_1_wrote(tmp_path: Path) -> None:
    """So a state file written before sources were pluggable is carried over, not rebuilt."""
    text = (
        "timezone: Europe/Berlin\ntracking_start: 2026-01-01\n"
        "bamboo: {url: 'https://bamboo.example.com', token: t, environments: [production, prod-.*]}\n"
    )
    assert load(write(tmp_path, text)).legacy_fingerprint() == ("bamboo", "daf20d6c4ef16fe3")  # from 0.1's code
