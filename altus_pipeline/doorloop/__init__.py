"""DoorLoop access: the entity registry, the HTTP client and its rate budget."""
