"""Alembic migrations of the packwatch database (run with ``packwatch db migrate``)."""
