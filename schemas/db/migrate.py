"""Run the Alembic migrations programmatically (``packwatch db migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def sqlalchemy_url(dsn: str) -> str:
    """A libpq-style ``postgresql://`` DSN as SQLAlchemy's asyncpg URL."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            # asyncpg's connect() takes libpq's sslmode as ``ssl``.
            return "postgresql+asyncpg://" + dsn[len(prefix) :].replace("sslmode=", "ssl=")
    raise ValueError(f"not a PostgreSQL DSN: {dsn!r}")


def alembic_config(dsn: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(dsn).replace("%", "%%"))
    return cfg


def upgrade(dsn: str, revision: str = "head") -> None:
    """Migrate the database at ``dsn`` up to ``revision``. Blocking; not in an event loop."""
    command.upgrade(alembic_config(dsn), revision)


def downgrade(dsn: str, revision: str = "base") -> None:
    """Migrate the database at ``dsn`` down to ``revision``. Blocking."""
    command.downgrade(alembic_config(dsn), revision)
