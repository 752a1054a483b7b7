"""SQL queries for the PostgreSQL datasource, in the foundation SDK's builder style.

The SDK ships typed query builders for many datasources but not for
PostgreSQL, so this module adds one: :class:`SqlQuery` (a ``Dataquery``
variant) and :class:`SqlAnnotationTarget` for annotation queries. Both
serialise to the JSON Grafana's SQL datasources read (``rawSql``, ``format``,
``rawQuery``, ``editorMode: code``).
"""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

from services.grafana.datasources import POSTGRES_REF

Format = typing.Literal["time_series", "table"]


class SqlModel(cogvariants.Dataquery):
    """One SQL query of a panel or an alert rule."""

    def __init__(self, raw_sql: str, ref_id: str = "A", fmt: Format = "table") -> None:
        self.raw_sql = raw_sql
        self.ref_id = ref_id
        self.format = fmt
        self.datasource = POSTGRES_REF

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": self.datasource,
            "editorMode": "code",
            "format": self.format,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class SqlQuery(cogbuilder.Builder[SqlModel]):
    """Builder of :class:`SqlModel`; ``fmt`` is ``table`` or ``time_series``."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = SqlModel(raw_sql.strip())

    def build(self) -> SqlModel:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def format(self, fmt: Format) -> typing.Self:
        self._internal.format = fmt
        return self


class SqlAnnotationModel(dashboard.AnnotationTarget):
    """An annotation query: columns ``time``, ``timeend``, ``text``, ``tags``."""

    def __init__(self, raw_sql: str) -> None:
        super().__init__()
        self.raw_sql = raw_sql

    def to_json(self) -> dict[str, object]:
        return {
            "editorMode": "code",
            "format": "table",
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": "Anno",
        }


class SqlAnnotationTarget(cogbuilder.Builder[SqlAnnotationModel]):
    """Builder of :class:`SqlAnnotationModel`."""

    def __init__(self, raw_sql: str) -> None:
        self._internal = SqlAnnotationModel(raw_sql.strip())

    def build(self) -> SqlAnnotationModel:
        return self._internal
