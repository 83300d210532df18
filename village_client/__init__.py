"""The village terminal as a Python aiortc client, for headless terminals and tests."""
