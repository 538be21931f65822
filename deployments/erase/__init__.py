"""Object erase with LaMa, crop by crop (the Eraser)."""
