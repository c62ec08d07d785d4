#!/usr/bin/env python3
"""Screenshot `fdc web`'s page for the README (docs/img/web-page.png) in Debian's headless Chromium.

Run from the repository root: `.venv/bin/python scripts/make_web_picture.py` (`make pictures` runs it). It starts a
mosquitto on a free port, `fdc web`, publishes the README's example state (3 weeks, a record of 11), and takes
the picture of the page as a 1280x720 screen shows it. Without Chromium it says which packages to install.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.web_display import chromium_missing, open_chromium, serving, write_web_config  # noqa: E402
from tests.broker import Broker, free_port, wait_until  # noqa: E402
from tests.display_helpers import publish  # noqa: E402
from tests.run_fdc import fdc_command  # noqa: E402

STATE = {
    "weeks": 3,
    "counted_from": "2026-11-06",
    "since": "deploy",
    "last_friday_deploy": {
        "project": "Payments",
        "environment": "Production",
        "version": "release-42",
        "started": "2026-11-06T16:42:10+01:00",
    },
    "record": {"weeks": 11, "from": "2025-03-07", "until": "2025-05-23"},
    "friday_deploys_last_365_days": 4,
}


def main(out: Path = ROOT / "docs" / "img" / "web-page.png") -> int:
    missing = chromium_missing()
    if missing is not None:
        print(f"make_web_picture: {missing}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="fdc-picture-") as tmp:
        broker = Broker(Path(tmp) / "broker")
        broker.start()
        port = free_port()
        cfg = write_web_config(Path(tmp) / "web.yaml", broker, port, node_id="lobby")
        web = subprocess.Popen(fdc_command("--log-level", "warning", "web", "-c", str(cfg)))
        try:
            publish(broker, "friday-deploy/status", b"online")
            publish(broker, "friday-deploy/weeks", b"3")
            publish(broker, "friday-deploy/state", json.dumps(STATE).encode())
            wait_until(lambda: serving(port), 30, "fdc web to serve its page")
            with open_chromium(1280, 720) as browser:
                browser.get(f"http://127.0.0.1:{port}/")
                wait_until(
                    lambda: browser.execute_script("return document.getElementById('record').textContent") != "",
                    10,
                    "the page to show the record",
                )
                out.parent.mkdir(parents=True, exist_ok=True)
                browser.save_screenshot(str(out))
        finally:
            web.terminate()
            web.wait(15)
            broker.stop()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
