"""Grafana as code: dashboards, datasources and alert rules for the fleet.

``packwatch grafana build`` writes the provisioning files under
``infra/grafana/``; ``check`` runs every SQL query they hold against a
database with Grafana's macros expanded; ``sync`` pushes them to a running
Grafana through its HTTP API.
"""
