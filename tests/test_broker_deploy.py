"""The deployment files: docker-compose.yml through a real compose parser, Dockerfile, systemd unit, scripts."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.broker_project import BRIDGE_ON, ROOT, TLS_ON, run

CONTRACT = ROOT.parent / "shared" / "design" / "CONTRACT.md"


def compose_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def compose_healthcheck() -> str:
    """The broker's healthcheck as the shell line the container runs (compose's $$ is a literal $)."""
    test = compose_file()["services"]["mosquitto"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    return str(test[1]).replace("$$", "$")


def compose_command() -> list[str] | None:
    """`docker compose` when this machine has the plugin, else Debian's `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def project_files() -> list[str]:
    """What a fresh clone has: tracked files plus new ones not ignored (no passwd, certs, .env...)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [f for f in out.splitlines() if (ROOT / f).is_file()]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A copy of the project as a fresh clone has it, set up with the README's first steps."""
    dest = tmp_path / "fdc"
    for name in project_files():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    for line in README_SETUP:
        run(line, dest)
    return dest


# The README's first steps of "Run the server side", which the compose check runs as written.
README_SETUP = [
    "cp .env.example .env",
    "cp examples/publisher.docker.yaml publisher.yaml",
    "./mosquitto/make-passwords.sh berlin-3rd-floor",
    'sed -i "s|^FDC_MQTT_PASSWORD=.*|FDC_MQTT_PASSWORD=$(cat mosquitto/secrets/publisher)|" .env',
]


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


# --- docker-compose.yml ------------------------------------------------------------------------------------


def test_the_readme_gives_the_setup_steps_the_compose_check_runs() -> None:
    section = readme_section("Run the server side")
    for line in README_SETUP:
        assert line in section, f"README 'Run the server side' should say: {line}"
    assert TLS_ON in section  # the switch tests/test_broker_tls.py runs
    assert BRIDGE_ON in readme_section("Several offices")


def test_every_project_file_the_readme_names_exists() -> None:
    text = readme_section("Run the server side") + readme_section("Several offices")
    made_by_setup = {".env", "publisher.yaml", "mosquitto/passwd", "mosquitto/bridge/office-bridge.conf",
                     "mosquitto/bridge/central-ca.crt"}  # fmt: skip
    named = set(
        re.findall(r"(?<![\w/~.-])((?:\./)?(?:mosquitto|deploy|examples)/[\w./-]*[\w]|\.env(?:\.example)?)", text)
    )
    assert named, "no paths found"
    for path in sorted(named):
        path = path.removeprefix("./")
        if path in made_by_setup or path.startswith(("mosquitto/secrets", "mosquitto/certs")):
            continue
        assert (ROOT / path).exists(), f"README names {path}, which does not exist"


def test_compose_file_parses_and_references_only_files_that_exist(clone: Path) -> None:
    cmd = compose_command()
    if cmd is None:
        if os.environ.get("CI"):
            pytest.fail("no compose parser: .ci/run installs Debian's docker-compose")
        pytest.skip("no `docker compose` or `docker-compose` here (apt-get install docker-compose)")
    out = run([*cmd, "config"], clone)
    config = yaml.safe_load(out)
    services = config["services"]
    assert set(services) == {"mosquitto", "publisher"}

    broker = services["mosquitto"]
    assert broker["image"] == "eclipse-mosquitto:2"
    assert broker["restart"] == "unless-stopped"
    assert "healthcheck" in broker
    publisher = services["publisher"]
    assert publisher["restart"] == "unless-stopped"
    assert publisher["depends_on"] == {"mosquitto": {"condition": "service_healthy"}}
    env = publisher["environment"]
    assert env["FDC_MQTT_USERNAME"] == "publisher"
    assert env["FDC_MQTT_PASSWORD"] == (clone / "mosquitto" / "secrets" / "publisher").read_text().strip()
    assert env["TZ"] == "Europe/Berlin"

    # Build context and Dockerfile exist; every bind mount's source exists; named volumes are declared.
    build = publisher["build"]
    context = Path(build["context"] if isinstance(build, dict) else build)
    assert context.resolve() == clone.resolve()
    assert (context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")).is_file()
    mounts: dict[str, tuple[str, bool]] = {}
    for name, service in services.items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str):  # docker-compose 1.x prints "source:target[:mode]"
                source, target, *mode = volume.split(":")
                kind = "bind" if source.startswith("/") else "volume"
                read_only = mode == ["ro"]
            else:
                source, target, kind = volume["source"], volume["target"], volume["type"]
                read_only = bool(volume.get("read_only"))
            if kind == "bind":
                assert Path(source).exists(), f"{name} mounts {source}, which does not exist"
                assert Path(source).resolve().is_relative_to(clone.resolve())
            else:
                assert source in config["volumes"], f"{name} uses the undeclared volume {source}"
            mounts[target] = (source, read_only)
    assert mounts["/mosquitto/config"] == (str(clone / "mosquitto"), True)
    assert mounts["/mosquitto/data"][0] == "mosquitto-data" or mounts["/mosquitto/data"][0].endswith("mosquitto-data")
    assert mounts["/config/publisher.yaml"] == (str(clone / "publisher.yaml"), True)
    assert mounts["/var/lib/fdc"][0].endswith("fdc-state")

    # Inside the mounted folder: every file mosquitto.conf names (with the container path) is there.
    conf = (clone / "mosquitto" / "mosquitto.conf").read_text()
    for path in re.findall(r"^(?:password_file|acl_file)\s+(\S+)", conf, re.M):
        assert (clone / "mosquitto" / Path(path).relative_to("/mosquitto/config")).is_file(), path


def test_an_office_broker_needs_no_env_file(tmp_path: Path) -> None:
    """An office runs only `docker compose up -d mosquitto`, with no .env: the file must still load."""
    cmd = compose_command()
    if cmd is None:
        pytest.skip("no compose parser here")
    for name in project_files():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / "publisher.yaml").write_text("")  # the bind mount's default source
    config = yaml.safe_load(run([*cmd, "config"], tmp_path))
    assert config["services"]["publisher"]["environment"]["FDC_MQTT_PASSWORD"] in ("", None)
    assert run([*cmd, "config", "--services"], tmp_path).split() == ["mosquitto", "publisher"]


def test_every_variable_compose_reads_is_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    assert used == documented
    assert {"TZ", "FDC_BAMBOO_TOKEN", "FDC_MQTT_USERNAME", "FDC_MQTT_PASSWORD"} <= documented


def test_the_publisher_exposes_the_receiver_on_loopback_and_checks_healthz(tmp_path: Path, broker: Any) -> None:
    """The port a TLS proxy on the host forwards to; the healthcheck is right with and without `webhooks:`."""
    from tests.broker import free_port
    from tests.test_push_e2e import start, stop

    publisher = compose_file()["services"]["publisher"]
    assert publisher["ports"] == ["127.0.0.1:8080:8080"]
    test = publisher["healthcheck"]["test"]
    assert test[:4] == ["CMD", "python", "-m", "publisher.receiver"] and test[4:] == [
        "--healthcheck",
        "/config/publisher.yaml",
    ]

    def check(config: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *test[2:-1], str(config)], capture_output=True, text=True, cwd=ROOT)

    plain = tmp_path / "plain.yaml"
    plain.write_text("bamboo: {url: https://bamboo.example.com}\n")
    assert check(plain).returncode == 0  # no receiver configured: nothing to ask
    port = free_port()
    (tmp_path / "down.yaml").write_text(f"webhooks: {{listen: '0.0.0.0:{port}'}}\n")
    down = check(tmp_path / "down.yaml")
    assert down.returncode == 1 and down.stdout.startswith("unhealthy: ")
    proc = start(tmp_path, broker, port)
    try:
        assert check(tmp_path / "down.yaml").returncode == 0
    finally:
        stop(proc)
    for name in (
        "FDC_WEBHOOK_TOKEN",
        "FDC_GITHUB_WEBHOOK_SECRET",
        "FDC_GITLAB_WEBHOOK_TOKEN",
        "FDC_BAMBOO_WEBHOOK_TOKEN",
    ):
        assert publisher["environment"][name] == f"${{{name}:-}}"


def test_the_healthcheck_uses_only_what_the_broker_image_has() -> None:
    line = compose_healthcheck()
    assert shlex.split(line)[0] == "mosquitto_sub"
    assert "-p 1883" in line


# --- Dockerfile and .dockerignore --------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_publisher_image_from_the_project() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert re.fullmatch(
        r"FROM python:3\.1[1-9]-slim(-\w+)?", lines[next(i for i, v in enumerate(lines) if v.startswith("FROM"))]
    )
    for line in lines:
        if line.startswith("COPY"):
            *sources, _dest = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert "RUN pip install . && rm -rf /src/build" in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user == ["USER fdc"]
    assert 'VOLUME ["/var/lib/fdc"]' in lines
    assert lines[-1] == 'CMD ["fdc", "publisher", "-c", "/config/publisher.yaml"]'
    example = yaml.safe_load((ROOT / "examples" / "publisher.docker.yaml").read_text())
    assert Path(example["state_file"]).parent == Path("/var/lib/fdc")


def test_dockerignore_keeps_secrets_and_state_out_of_the_image() -> None:
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "*"  # everything is left out unless named
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "fdc", "common", "publisher", "display_node", "demo"}
    # What `pip install .` needs is all allowed: the packages pyproject.toml lists and its readme.
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"^include = \[(.*)\]", pyproject, re.M)
    assert packages is not None
    assert {p.strip().strip('"').rstrip("*") for p in packages.group(1).split(",")} <= allowed


# --- examples/publisher.yaml ------------------------------------------------------------------------------


def contract_publisher_keys() -> set[str]:
    text = CONTRACT.read_text() if CONTRACT.exists() else ""
    if not text:
        pytest.skip(f"{CONTRACT} is not here")
    block = text[text.index("Publisher:\n```yaml\n") + len("Publisher:\n```yaml\n") :]
    block = block[: block.index("```")]
    keys: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        m = re.match(r"^(\s*)([a-z_]+):", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2)))
        keys.add(".".join(k for _, k in stack))
        if m.group(2) == "tls":
            keys |= {f"mqtt.tls.{k}" for k in ("ca_file", "cert_file", "key_file")}
    return keys


def flatten(data: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in data.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= flatten(value, prefix + key + ".")
    return out


def test_example_publisher_config_uses_the_contract_keys() -> None:
    example = yaml.safe_load((ROOT / "examples" / "publisher.docker.yaml").read_text())
    used = flatten(example)
    assert used <= contract_publisher_keys(), used - contract_publisher_keys()
    assert example["mqtt"] == {"host": "mosquitto", "port": 1883}  # the compose service; secrets from .env
    assert example["topic_prefix"] == "friday-deploy"  # the prefix mosquitto/acl is written for
    assert "token" not in example["bamboo"] and "password" not in example["bamboo"]


# --- systemd ----------------------------------------------------------------------------------------------


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze missing: .ci/run installs systemd")
        pytest.skip("systemd-analyze is not installed")
    unit = (ROOT / "deploy" / "systemd" / "fdc-publisher.service").read_text()
    assert "ExecStart=/opt/fdc/venv/bin/fdc publisher -c /etc/fdc/publisher.yaml\n" in unit
    # verify checks that ExecStart's program exists: point it at this checkout's fdc for the check.
    fdc = Path(shutil.which("fdc") or Path(sys.executable).with_name("fdc"))
    assert fdc.exists()
    checked = tmp_path / "fdc-publisher.service"
    checked.write_text(unit.replace("/opt/fdc/venv/bin/fdc", str(fdc)))
    proc = subprocess.run([analyze, "verify", str(checked)], capture_output=True, text=True)
    assert proc.returncode == 0 and "fdc-publisher.service" not in proc.stderr, proc.stderr
    # The check is real: a misspelt option is reported.
    checked.write_text(unit.replace("/opt/fdc/venv/bin/fdc", str(fdc)).replace("RestartSec=", "RestartSecs="))
    proc = subprocess.run([analyze, "verify", str(checked)], capture_output=True, text=True)
    assert "RestartSecs" in proc.stderr


def test_the_systemd_unit_keeps_state_where_the_example_config_puts_it() -> None:
    unit = (ROOT / "deploy" / "systemd" / "fdc-publisher.service").read_text()
    assert "StateDirectory=fdc\n" in unit
    assert "EnvironmentFile=/etc/fdc/publisher.env\n" in unit
    assert "RestartPreventExitStatus=2\n" in unit


# --- make-passwords.sh ---------------------------------------------------------------------------------------


def test_make_passwords_is_idempotent_and_never_prints_a_password(tmp_path: Path) -> None:
    script = str(ROOT / "mosquitto" / "make-passwords.sh")
    env = {"FDC_MOSQUITTO_DIR": str(tmp_path)}
    first = run([script, "berlin-3rd-floor"], tmp_path, env)
    users = [line.split(":")[0] for line in (tmp_path / "passwd").read_text().splitlines()]
    assert users == ["publisher", "homeassistant", "operator", "office-bridge", "berlin-3rd-floor"]
    secrets = {u: (tmp_path / "secrets" / u).read_text() for u in users}
    assert all(re.fullmatch(r"[0-9a-f]{32}\n", s) for s in secrets.values())
    assert len(set(secrets.values())) == len(users)
    for secret in secrets.values():
        assert secret.strip() not in first
    assert oct((tmp_path / "secrets").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "secrets" / "publisher").stat().st_mode & 0o777) == "0o600"
    before = (tmp_path / "passwd").read_bytes()

    again = run([script, "berlin-3rd-floor"], tmp_path, env)
    assert "new password" not in again
    assert (tmp_path / "passwd").read_bytes() == before
    assert {u: (tmp_path / "secrets" / u).read_text() for u in users} == secrets

    # A chosen password: write it to the secret file, run again; only that user's line changes.
    (tmp_path / "secrets" / "operator").write_text("chosen-by-hand\n")
    os.utime(tmp_path / "secrets" / "operator", (2e9, 2e9))
    changed = run([script], tmp_path, env)
    assert "operator: updated password" in changed
    after = (tmp_path / "passwd").read_text().splitlines()
    assert [line for line in after if not line.startswith("operator:")] == [
        line for line in before.decode().splitlines() if not line.startswith("operator:")
    ]

    run([script, "--delete", "berlin-3rd-floor"], tmp_path, env)
    assert "berlin-3rd-floor:" not in (tmp_path / "passwd").read_text()
    assert not (tmp_path / "secrets" / "berlin-3rd-floor").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "unknown option --frobnicate"),
        (["not/a/node"], "is not a usable node_id"),
        (["--delete"], "--delete needs the node_id"),
        (["--delete", "publisher"], "refusing to delete the publisher user"),
        (["--owner"], "--owner needs a user"),
        (["operator"], "'operator' is the name of a role"),
        (["lobby", "homeassistant"], "'homeassistant' is the name of a role"),
        (["office-bridge"], "'office-bridge' is the name of a role"),
        (["friday-deploy"], "'friday-deploy' is the topic prefix"),
    ],
)
def test_make_passwords_explains_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run(
        [str(ROOT / "mosquitto" / "make-passwords.sh"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FDC_MOSQUITTO_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Usage:" in proc.stderr or "error:" in proc.stderr


def test_make_passwords_refuses_another_prefix_once_the_acl_has_it(tmp_path: Path) -> None:
    """The README's `sed` for another topic_prefix; the script then refuses that prefix as a node_id."""
    shutil.copy(ROOT / "mosquitto" / "acl", tmp_path / "acl")
    run("sed -i 's|friday-deploy/|my-prefix/|g' acl", tmp_path)
    env = {**os.environ, "FDC_MOSQUITTO_DIR": str(tmp_path)}
    script = str(ROOT / "mosquitto" / "make-passwords.sh")
    proc = subprocess.run([script, "my-prefix"], capture_output=True, text=True, env=env)
    assert (proc.returncode, proc.stderr.split(":")[0]) == (2, "error")
    assert "'my-prefix' is the topic prefix" in proc.stderr
    assert not (tmp_path / "passwd").exists()
    run([script, "friday-deploy"], tmp_path, env)  # no longer the prefix: an ordinary node_id


def test_make_certs_explains_bad_arguments(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(ROOT / "mosquitto" / "make-certs.sh"), "bad name"],
        capture_output=True,
        text=True,
        env={**os.environ, "FDC_CERT_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "is not a host name or IP address" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_secrets_and_generated_files_are_ignored_by_git() -> None:
    for path in (
        "mosquitto/passwd",
        "mosquitto/secrets/publisher",
        "mosquitto/certs/server.key",
        "mosquitto/bridge/office-bridge.conf",
        "mosquitto/bridge/central-ca.crt",
        ".env",
        "publisher.yaml",
    ):
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert proc.returncode == 0, f"{path} is not ignored by .gitignore"
    proc = subprocess.run(["git", "check-ignore", "-q", "mosquitto/bridge/office-bridge.conf.example"], cwd=ROOT)
    assert proc.returncode == 1


def test_the_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck missing: .ci/run installs it")
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = [str(ROOT / "mosquitto" / name) for name in ("make-passwords.sh", "make-certs.sh")]
    proc = subprocess.run([shellcheck, *scripts], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_what_the_dockerfile_copies_is_enough_to_install_the_project(tmp_path: Path) -> None:
    """`pip install .` in the image sees only what the Dockerfile copies: build a wheel from exactly that."""
    copied: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied += line.split()[1:-1]
    assert copied == ["pyproject.toml", "README.md", "fdc", "common", "publisher", "display_node", "demo"]
    context = tmp_path / "src"
    for name in project_files():
        if name.split("/")[0] in copied:
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, context / name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("friday_deploy_counter-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    for package in ("fdc", "common", "publisher", "display_node"):
        sources = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / package).rglob("*.py"))
        assert set(sources) <= set(names), set(sources) - set(names)
    assert "fdc = fdc.cli:main" in entry_points


def test_the_example_publisher_config_passes_check_config(tmp_path: Path) -> None:
    """With the secrets in the environment, as docker-compose.yml and the systemd unit give them."""
    fdc = shutil.which("fdc") or str(Path(sys.executable).with_name("fdc"))
    env = {**os.environ, "FDC_BAMBOO_TOKEN": "t0ken", "FDC_MQTT_USERNAME": "publisher", "FDC_MQTT_PASSWORD": "pw"}
    proc = subprocess.run(
        [fdc, "check-config", str(ROOT / "examples" / "publisher.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "t0ken" not in proc.stdout + proc.stderr
