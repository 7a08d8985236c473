"""The store plane: one PostgreSQL (embedded or ``DATABASE_URL``), async SQLAlchemy, Alembic migrations.

Every later plane keeps its tables in the ``tradeplane`` schema created by the baseline migration
and grants its workloads access through the ``tradeplane_app`` group role.
"""

from tradeplane.runtime.store.engine import create_engine, database_url, normalise_url

SCHEMA = "tradeplane"
APP_ROLE = "tradeplane_app"

__all__ = ["APP_ROLE", "SCHEMA", "create_engine", "database_url", "normalise_url"]
