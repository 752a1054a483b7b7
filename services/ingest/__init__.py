"""Ingestion: ``telemetry.pack.v1`` into ``pack_samples``, every valid sample exactly once.

A chain of small steps, each with one job (see :mod:`services.ingest.service`):
decode and validate → batch (size or time) → dead-letter the rejects →
COPY + merge in one transaction → commit offsets.
"""
