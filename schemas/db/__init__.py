"""The database contract: tables (SQLAlchemy Core), rollups, and migrations.

One definition serves both backends. On TimescaleDB ``pack_samples`` is a
hypertable and the rollups are continuous aggregates; on plain PostgreSQL the
same relation names are ordinary tables, and ingestion keeps the rollups
current. Migrations (``schemas/migrations``) detect which backend they run on.
"""
