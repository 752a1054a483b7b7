"""packwatch's pack models: state of health, thermal anomalies and safety rules.

- :mod:`models.frame`: one tick of telemetry for many packs of one design, as arrays.
- :mod:`models.rules`: deterministic safety rules, thresholds per design in :mod:`models.limits`.
- :mod:`models.thermal`: per-pack thermal state (expected temperature, residuals, rates).
- :mod:`models.detector`: the anomaly models and the decision on conditions.
- :mod:`models.soh`: state-of-health features (coulomb counting, resistance, weak cells).
- :mod:`models.train` / :mod:`models.evaluate`: reproducible training and evaluation
  on simulated fleets; the shipped ONNX files and the model card live in ``models/onnx``.
"""
