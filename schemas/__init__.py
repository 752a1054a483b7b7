"""The contracts of packwatch: message types and their JSON Schemas, the CAN database,
the database schema and its migrations. See ``schemas/README.md`` for the messages."""
