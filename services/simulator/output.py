"""Where simulated data goes: Kafka topics, or files for offline work, plus the ground truth.

- :class:`KafkaSink`: keyed by vehicle id, to ``telemetry.can.v1`` (bundle
  payloads) or ``telemetry.pack.v1`` (PackSample JSON); each tick's sends are
  awaited before the next tick, so the producer never buffers without bound.
- :class:`FileSink`: ``can.log`` in candump log format (``(secs.usecs) IFACE
  ID#DATA``, the vehicle id as the interface name) and ``samples.parquet``
  with one row per PackSample (column names = PackSample fields).
- :class:`LabelWriter`: ``labels.jsonl`` (one fault window per line, kind,
  mode, cell, sensor, severity, true start/end) and ``truth.parquet``: per bus
  at a fixed interval the true SoC, SoH, capacity (Ah) and R0 (mOhm at 25 degC)
  of every cell, and each bus's clock offset so labels map to bus time.
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from schemas.can.bundle import HEADER_FIXED
from schemas.pack_sample import PackSample
from services.simulator.fleet import Fleet

#: One message to send: (vehicle id, payload bytes or sample).
Item = tuple[str, "bytes | PackSample"]


class Sink(Protocol):
    """Takes each tick's messages; ``close`` flushes."""

    async def write(self, items: list[Item]) -> None: ...

    async def close(self) -> None: ...


class KafkaSink:
    """Sends items to ``topic`` keyed by vehicle id, waiting for each tick's acknowledgements."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.sent = 0

    async def write(self, items: list[Item]) -> None:
        """Send and wait until the broker acknowledged every item of this tick."""
        from schemas.messages import encode

        futures = []
        for vid, payload in items:
            value = payload if isinstance(payload, bytes) else encode(payload)
            futures.append(await self.producer.send(self.topic, value, key=vid.encode()))
        await asyncio.gather(*futures)
        self.sent += len(items)

    async def close(self) -> None:
        """Nothing to do: the producer's owner flushes and stops it."""


def candump_lines(payload: bytes) -> list[str]:
    """candump ``-L`` lines for every frame of one bundle payload."""
    vlen = payload[3]
    vid = payload[4 : 4 + vlen].decode()
    ts_us = int.from_bytes(payload[4 + vlen : 12 + vlen], "little", signed=True)
    recs = np.frombuffer(
        payload,
        dtype=np.dtype([("id", "<u4"), ("dlc", "u1"), ("data", "<u8")]),
        offset=HEADER_FIXED + vlen,
    )
    stamp = f"({ts_us // 1_000_000}.{ts_us % 1_000_000:06d})"
    out = []
    for r in recs:
        data = int(r["data"]).to_bytes(8, "little")[: int(r["dlc"])].hex().upper()
        out.append(f"{stamp} {vid} {int(r['id']):08X}#{data}")
    return out


class FileSink:
    """Writes a candump log (bundle payloads) and/or Parquet (PackSamples) under ``out_dir``."""

    def __init__(self, out_dir: Path, batch_rows: int = 20000) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self._log = (out_dir / "can.log").open("w", encoding="ascii")
        self._writer: pq.ParquetWriter | None = None
        self._rows: list[dict[str, Any]] = []
        self.batch_rows = batch_rows
        self.sent = 0

    async def write(self, items: list[Item]) -> None:
        """Append this tick's items (bytes → can.log, PackSample → samples.parquet)."""
        for _, payload in items:
            if isinstance(payload, bytes):
                self._log.write("\n".join(candump_lines(payload)) + "\n")
            else:
                self._rows.append(msgspec.to_builtins(payload, builtin_types=(datetime,)))
        self.sent += len(items)
        if len(self._rows) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        table = pa.Table.from_pylist(self._rows)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.out_dir / "samples.parquet", table.schema)
        self._writer.write_table(table.cast(self._writer.schema))
        self._rows = []

    async def close(self) -> None:
        """Flush and close both files."""
        self._flush()
        if self._writer is not None:
            self._writer.close()
        self._log.close()


class LabelWriter:
    """Ground truth beside the data: fault windows and per-cell truth over time."""

    def __init__(self, out_dir: Path, fleet: Fleet) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir, self.fleet = out_dir, fleet
        self._rows: list[dict[str, Any]] = []

    def snapshot(self) -> None:
        """Record every bus's true state now."""
        f = self.fleet
        now = f.now
        for g in f.groups:
            p = g.pack
            q = p.q_ah.tolist()
            r0 = (p.r0 * 1000.0).tolist()
            soh = (p.capacity_ah / p.p.capacity_ah).tolist()
            for b, vid in enumerate(g.vehicle_ids):
                self._rows.append(
                    {
                        "ts": now,
                        "vehicle_id": vid,
                        "design_id": p.design.design_id,
                        "soc_true": float(p.soc[b].mean()),
                        "soh_true": soh[b],
                        "temp_max_true_c": float(p.temp[b].max()),
                        "capacity_ah": q[b],
                        "r0_mohm_25c": r0[b],
                        "clock_offset_s": float(g.clock_offset_s[b] + g.clock_drift[b] * f.t_s),
                    }
                )

    def close(self) -> None:
        """Write ``labels.jsonl`` (fault windows, clipped to the run) and ``truth.parquet``."""
        f = self.fleet
        with (self.out_dir / "labels.jsonl").open("w", encoding="utf-8") as out:
            for fault in f.faults:
                if fault.start_s > f.t_s:
                    continue
                end = (
                    None
                    if math.isinf(fault.end_s) or fault.end_s > f.t_s
                    else (f.start + timedelta(seconds=fault.end_s)).isoformat()
                )
                out.write(
                    json.dumps(
                        {
                            "vehicle_id": fault.vehicle_id,
                            "kind": fault.kind,
                            "mode": fault.mode,
                            "severity": round(fault.severity, 4),
                            "cell": fault.cell,
                            "sensor": fault.sensor,
                            "start": (f.start + timedelta(seconds=fault.start_s)).isoformat(),
                            "end": end,
                        }
                    )
                    + "\n"
                )
        if self._rows:
            pq.write_table(pa.Table.from_pylist(self._rows), self.out_dir / "truth.parquet")


def utc_now() -> datetime:
    """Wall-clock now, aware."""
    return datetime.now(UTC)
