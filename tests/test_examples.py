"""The example configs run where the README runs them: the plain one on a plain machine, the Docker one in
compose; neither mentions files users do not have."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from tests.run_fdc import run_fdc

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_the_plain_example_uses_a_local_broker_and_a_state_file_in_the_home_folder(tmp_path: Path) -> None:
    example = yaml.safe_load((EXAMPLES / "publisher.yaml").read_text())
    assert example["mqtt"] == {"host": "localhost", "port": 1883}
    assert example["state_file"] == "~/.local/state/fdc/state.json"
    env = {**os.environ, "HOME": str(tmp_path), "FDC_BAMBOO_TOKEN": "t0ken"}
    r = run_fdc("check-config", str(EXAMPLES / "publisher.yaml"), env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"{EXAMPLES / 'publisher.yaml'}: valid publisher config"  # no warning either


def test_the_docker_example_talks_to_the_compose_broker_and_keeps_state_on_the_volume() -> None:
    example = yaml.safe_load((EXAMPLES / "publisher.docker.yaml").read_text())
    assert example["mqtt"] == {"host": "mosquitto", "port": 1883}
    assert Path(example["state_file"]).parent == Path("/var/lib/fdc")
    plain = yaml.safe_load((EXAMPLES / "publisher.yaml").read_text())
    assert {k: v for k, v in example.items() if k not in ("mqtt", "state_file")} == {
        k: v for k, v in plain.items() if k not in ("mqtt", "state_file")
    }


def test_the_examples_name_only_what_users_have() -> None:
    for path in EXAMPLES.glob("*.yaml"):
        assert "CONTRACT" not in path.read_text(), path


def test_the_readme_copies_each_example_where_it_belongs() -> None:
    readme = (ROOT / "README.md").read_text()
    publisher = readme[readme.index("\n## Publisher\n") : readme.index("\n## Topics and payloads")]
    server = readme[readme.index("\n## Run the server side\n") :]
    assert "cp examples/publisher.yaml publisher.yaml" in publisher
    assert "cp examples/publisher.docker.yaml publisher.yaml" in server
    assert "python -m benchmarks" not in readme.replace(".venv/bin/python -m benchmarks", "")
