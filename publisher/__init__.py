"""Publisher: deployment sources → weeks since the last Friday deployment → MQTT."""
