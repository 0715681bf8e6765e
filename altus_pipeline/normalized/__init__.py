"""The normalized layer: typed, joinable tables built from the raw layer with set-based SQL."""
