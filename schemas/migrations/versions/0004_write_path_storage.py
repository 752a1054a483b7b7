"""Storage settings for the ingest write path.

- The rollup state tables (plain PostgreSQL) leave half of each page free.
  Every ingest batch updates the state rows of the buckets it touches; with
  room on the page the new row version stays there (a HOT update: no index
  entry, no page split). That made a batch's rollup merge ~25 % cheaper in the
  ingest benchmark and keeps the tables from bloating. Pages written before
  this revision take it when rewritten (VACUUM FULL); new pages at once.
- ANALYZE keeps no statistics on the cell arrays of ``pack_samples``. No query
  filters on their elements, and gathering element statistics over 30,000
  sampled rows of 200-odd values took ~80 % of each (auto)analyze of the
  table: 2.3 s of CPU, against 0.5 s without, beside a running ingest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FILLFACTOR = 50  # percent of a page filled on insert; the rest takes updated row versions
# The state tables exist on plain PostgreSQL only (TimescaleDB keeps continuous aggregates).
_STATE_TABLES = ("pack_samples_1m_state", "pack_samples_1h_state")
_ARRAYS = ("cell_voltages", "cell_temps")


def _state_tables(clause: str) -> None:
    for table in _STATE_TABLES:
        op.execute(
            f"DO $$ BEGIN IF to_regclass('{table}') IS NOT NULL THEN "
            f"ALTER TABLE {table} {clause}; END IF; END $$"
        )


def _array_statistics(target: int) -> None:
    """On a hypertable TimescaleDB passes the target on to its chunks, those there
    and those to come (tests/integration/test_db_timescale.py)."""
    columns = ", ".join(f"ALTER COLUMN {c} SET STATISTICS {target}" for c in _ARRAYS)
    op.execute(f"ALTER TABLE pack_samples {columns}")


def upgrade() -> None:
    _state_tables(f"SET (fillfactor = {FILLFACTOR})")
    _array_statistics(0)


def downgrade() -> None:
    _array_statistics(-1)  # the server's default_statistics_target again
    _state_tables("RESET (fillfactor)")
