"""The packwatch REST API: fleet, pack and telemetry views, exports, under ``/v1``.

Layout: :mod:`.settings` (caps and bind address), :mod:`.errors` (the error
tree and its HTTP mapping), :mod:`.tokens` and :mod:`.auth` (bearer tokens,
roles, depot scope), :mod:`.signals` (the allow-lists), the ``routes_*``
modules (one concept each), :mod:`.app` (assembly and lifespan) and
:mod:`.cli` (``packwatch api`` and ``packwatch token``).
"""
