"""Click-to-mask with Segment Anything (the Segmenter)."""
