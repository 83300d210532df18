"""The Lawroom server: the aiohttp application, its settings, pages and command line."""
