"""mosquitto's `acl_file` rules, read from the project's own `mosquitto/acl`, for the embedded broker.

So that the demo's fallback broker lets each user read and write exactly what the project's mosquitto does.
Semantics follow mosquitto 2: `topic` lines before the first `user` line are for anonymous clients, `topic`
lines after `user NAME` are that user's, `pattern` lines (with `%u` for the user name and `%c` for the client
id) apply to every client; the access is `read`, `write`, `readwrite` (the default) or `deny`, and a `deny`
that matches wins over any grant. Anything no rule grants is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from paho.mqtt.client import topic_matches_sub

ACCESS = ("read", "write", "readwrite", "deny")


@dataclass(frozen=True)
class Rule:
    access: str  # read | write | readwrite | deny
    topic: str  # may hold %u / %c when it comes from a `pattern` line

    def grants(self, wanted: str) -> bool:
        return self.access == "readwrite" or self.access == wanted


@dataclass
class Acl:
    """The parsed file; `allowed()` answers one question: may this client read/write this topic?"""

    anonymous: list[Rule] = field(default_factory=list)
    users: dict[str, list[Rule]] = field(default_factory=dict)
    patterns: list[Rule] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, source: str = "acl") -> Acl:
        acl = cls()
        current: list[Rule] = acl.anonymous
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            rest = rest.strip()
            if word == "user":
                current = acl.users.setdefault(rest, [])
                continue
            if word not in ("topic", "pattern") or not rest:
                raise ValueError(f"{source} line {number}: not an ACL rule: {line!r}")
            access, _, topic = rest.partition(" ")
            if access not in ACCESS or not topic.strip():
                access, topic = "readwrite", rest
            rule = Rule(access, topic.strip())
            (acl.patterns if word == "pattern" else current).append(rule)
        return acl

    @classmethod
    def load(cls, path: Path) -> Acl:
        return cls.parse(path.read_text(), str(path))

    def allowed(self, username: str | None, client_id: str, topic: str, wanted: str) -> bool:
        """`wanted` is "read" (deliver to this client) or "write" (accept its publish)."""
        rules = list(self.anonymous) if username is None else list(self.users.get(username, []))
        for p in self.patterns:
            unsafe = username is None or any(c in username + client_id for c in "+#/")
            if unsafe and ("%u" in p.topic or "%c" in p.topic):
                continue  # mosquitto never substitutes names that could widen a pattern
            rules.append(Rule(p.access, p.topic.replace("%u", username or "").replace("%c", client_id)))
        matching = [r for r in rules if topic_matches_sub(r.topic, topic)]
        if any(r.access == "deny" for r in matching):
            return False
        return any(r.grants(wanted) for r in matching)
