"""Storage tests, each on SQLite and on PostgreSQL."""
