"""A local DoorLoop simulator (data generator and HTTP server) so the pipeline can be tested offline."""
