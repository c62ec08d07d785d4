"""`fdc demo`: the whole system on one machine, no Bamboo and no Pi needed."""
