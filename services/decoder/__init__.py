"""The CAN decoder service: ``telemetry.can.v1`` bundles in, decoded pack signals out.

``services.decoder.vectorized`` holds the hot path: a numpy decoder compiled
from the DBC that decodes a whole batch of bundles at once.
"""
