"""Publisher: Bamboo → weeks since the last Friday deployment → MQTT."""
