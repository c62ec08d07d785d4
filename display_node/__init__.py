"""Display node: MQTT → daisy-chained MAX7219 LED matrices (or an emulator)."""
