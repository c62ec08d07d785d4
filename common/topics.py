"""The MQTT topic layout of CONTRACT.md in one place, so no module spells a topic by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass

NODE_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
DEFAULT_PREFIX = "friday-deploy"


@dataclass(frozen=True)
class Topics:
    """Topics under one `topic_prefix`."""

    prefix: str = DEFAULT_PREFIX

    @property
    def weeks(self) -> str:
        return f"{self.prefix}/weeks"

    @property
    def state(self) -> str:
        return f"{self.prefix}/state"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def record(self) -> str:
        """The longest run of weeks without a Friday deployment (retained digits)."""
        return f"{self.prefix}/record"

    @property
    def events(self) -> str:
        """News of a Friday deployment that reset the count (JSON, not retained)."""
        return f"{self.prefix}/events"

    def display_status(self, node_id: str) -> str:
        return f"{self.prefix}/displays/{node_id}/status"

    def display_showing(self, node_id: str) -> str:
        return f"{self.prefix}/displays/{node_id}/showing"

    def display_brightness(self, node_id: str) -> str:
        """The brightness a display node uses (retained, written by the node)."""
        return f"{self.prefix}/displays/{node_id}/brightness"

    def display_brightness_set(self, node_id: str) -> str:
        """Commands to a display node (Home Assistant's number entity, or mosquitto_pub)."""
        return f"{self.prefix}/displays/{node_id}/brightness/set"


def valid_prefix(prefix: str) -> bool:
    """A prefix must be a plain topic path: no wildcards, no empty levels, no leading/trailing slash."""
    if not prefix or prefix.startswith("/") or prefix.endswith("/") or "//" in prefix:
        return False
    return not any(c in prefix for c in "#+\0")
