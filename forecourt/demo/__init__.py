"""``forecourt demo``: a broker, the collector and a simulated fleet running the real edge code, on one machine."""
