"""Pieces both halves of Friday Deploy Counter share: config loading, topics, payloads, the MQTT link."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("friday-deploy-counter")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
