"""Altus Pipeline: keeps a PostgreSQL warehouse in step with a DoorLoop account."""
