"""Storage: accounts, terminals, consultation records and the audit log, in SQLite or PostgreSQL."""
