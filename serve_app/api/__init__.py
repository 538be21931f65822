"""The HTTP edge: reading submissions, the one submit path, polling, views, error rendering per
surface, and the native routes (routes/)."""
