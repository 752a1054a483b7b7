"""The scoring service: pack samples in, thermal anomalies and pack_health out."""
