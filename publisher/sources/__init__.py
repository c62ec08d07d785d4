"""The built-in sources; importing this package registers each of them (publisher/source.py's registry)."""

from publisher.sources import bamboo, file

__all__ = ["bamboo", "file"]
