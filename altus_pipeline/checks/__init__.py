"""Asset checks, built per asset from the registry."""
