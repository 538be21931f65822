"""DDColor: the Colorizer deployment (colorize)."""
