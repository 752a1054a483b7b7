"""The alerts service: AnomalyEvents in; alert lifecycle, pack.alerts.v1 and notifications out.

Modules, one concept each:

- :mod:`~services.alerts.lifecycle`: the pure state machine (no I/O);
- :mod:`~services.alerts.store`: alert rows, audit trail, outbox and notification rows,
  written in one transaction per change;
- :mod:`~services.alerts.consume`: AnomalyEvents from Kafka into the store;
- :mod:`~services.alerts.sweep`: time-driven changes (auto-resolution, escalation);
- :mod:`~services.alerts.relay`: the outbox to ``pack.alerts.v1``;
- :mod:`~services.alerts.notify` with :mod:`~services.alerts.render` and
  :mod:`~services.alerts.channels`: webhooks and e-mail, retried, dead-lettered.
"""
