"""packwatch's fleet simulator: physics-informed e-bus packs, faults with ground truth, CAN out.

Public API (see ``services/simulator/README.md``)::

    from services.simulator import Fleet, FleetConfig, Realism, pack_samples, encode_payloads
    fleet = Fleet(FleetConfig(buses=10, seed=1, faults="weak_cell:BUS-0002:severity=0.6"))
    for readings in fleet.run(duration_s=3600):   # one list per simulated second
        payloads = [p for r in readings for p in encode_payloads(r)]   # CAN bundles
        samples = [s for r in readings for s in pack_samples(r)]      # PackSamples
"""

from services.simulator.encode import encode_payloads, to_bundles
from services.simulator.faults import Fault, FaultSpec, FaultSpecError, parse_spec
from services.simulator.fleet import Fleet, FleetConfig
from services.simulator.readings import Readings
from services.simulator.realism import Realism
from services.simulator.samples import pack_samples, simulate_samples

__all__ = [
    "Fault",
    "FaultSpec",
    "FaultSpecError",
    "Fleet",
    "FleetConfig",
    "Readings",
    "Realism",
    "encode_payloads",
    "pack_samples",
    "parse_spec",
    "simulate_samples",
    "to_bundles",
]
