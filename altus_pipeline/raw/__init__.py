"""The raw layer: DoorLoop listings loaded exactly as returned."""
