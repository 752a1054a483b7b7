"""How the bus's data differs from the truth: noise, clocks and an imperfect link.

:class:`Realism` holds the knobs (all can be switched off with
:meth:`Realism.off`); :class:`Impairer` applies the message-level ones to the
stream of one tick: a message may be lost, sent twice, or held back a few
seconds and sent late (out of order), as a cellular TCU link does.
Quantisation is not here: it happens by encoding through the DBC.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass(frozen=True)
class Realism:
    """Noise and link-imperfection parameters (probabilities are per message)."""

    cell_v_noise_v: float = 0.0008
    temp_noise_c: float = 0.25
    sensor_bias_c: float = 0.3  # per-sensor calibration offset, std-dev
    current_noise_a: float = 0.4
    current_offset_a: float = 0.3  # per-bus sensor offset, std-dev
    p_drop: float = 0.001
    p_duplicate: float = 0.0005
    p_delay: float = 0.001
    max_delay_s: int = 30
    p_frame_drop: float = 0.0002  # one CAN frame missing from a bundle
    clock_offset_s: float = 2.0  # per-bus clock offset, std-dev
    clock_drift_ppm: float = 20.0  # per-bus clock rate error, std-dev

    @classmethod
    def off(cls) -> Realism:
        """Perfect sensors, clocks and link (quantisation still applies)."""
        return replace(cls(), **dict.fromkeys(cls.__dataclass_fields__, 0))


class Impairer(Generic[T]):
    """Drops, duplicates and delays messages; delayed ones come out in a later tick."""

    def __init__(self, realism: Realism, rng: np.random.Generator) -> None:
        self.r = realism
        self.rng = rng
        self._held: list[tuple[int, int, T]] = []
        self._n = 0
        self.dropped = 0
        self.duplicated = 0
        self.delayed = 0

    def apply(self, tick: int, messages: list[T]) -> list[T]:
        """Messages to send at ``tick`` (an integer second): this tick's survivors
        in order, duplicates right after their original, then any delayed ones now due."""
        r = self.r
        out: list[T] = []
        if r.p_drop or r.p_duplicate or r.p_delay:
            u = self.rng.random((len(messages), 3))
            for m, (a, b, c) in zip(messages, u, strict=True):
                if a < r.p_drop:
                    self.dropped += 1
                    continue
                if c < r.p_delay:
                    self.delayed += 1
                    due = tick + 1 + int(self.rng.integers(max(r.max_delay_s, 1)))
                    self._n += 1
                    heapq.heappush(self._held, (due, self._n, m))
                    continue
                out.append(m)
                if b < r.p_duplicate:
                    self.duplicated += 1
                    out.append(m)
        else:
            out = list(messages)
        while self._held and self._held[0][0] <= tick:
            out.append(heapq.heappop(self._held)[2])
        return out

    def flush(self) -> list[T]:
        """Everything still held back (at the end of a run)."""
        out = [m for _, _, m in sorted(self._held)]
        self._held.clear()
        return out
