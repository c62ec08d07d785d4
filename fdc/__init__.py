"""The `fdc` command: the composition root above the publisher, the display node and the demo."""
