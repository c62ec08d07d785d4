"""Tests that read ../shared/ fail loudly in CI when it is missing, instead of skipping without a word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def collect(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/test_friday.py"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_ci_without_the_shared_folder_stops_the_run(tmp_path: Path) -> None:
    env = {**os.environ, "CI": "1", "FDC_SHARED_DIR": str(tmp_path / "missing")}
    r = collect(env)
    assert r.returncode != 0
    assert f"CI is set but {tmp_path / 'missing' / 'bamboo-samples'} is missing" in r.stdout + r.stderr


def test_without_ci_a_missing_folder_only_skips(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    r = collect({**env, "FDC_SHARED_DIR": str(tmp_path / "missing")})
    assert r.returncode == 0, r.stdout + r.stderr
