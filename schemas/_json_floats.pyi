"""Types of the C extension built from schemas/_json_floats.c (see schemas/json_floats.py
and schemas/json_columns.py)."""

from typing import Any

def parse(
    joined: Any, bounds: Any, table: Any, values: Any, counts: Any, offsets: Any, /
) -> None: ...
def fields(spec: list[tuple[bytes, int, int, bool, bool, int, int]], /) -> Any: ...
def decode(
    fields: Any,
    payloads: list[Any],
    table: Any,
    floats: Any,
    ints: Any,
    times: Any,
    values: Any,
    counts: Any,
    offsets: Any,
    ok: Any,
    /,
) -> tuple[tuple[list[Any], ...], tuple[list[Any], ...]]: ...
