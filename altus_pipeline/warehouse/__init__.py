"""The warehouse: connections, the embedded PostgreSQL and migrations."""
