"""Alembic migrations for the storage schema; `server.db.engine.upgrade_database` applies them."""
