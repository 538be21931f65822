"""Background removal: U²-Net and the full-resolution matting (the BackgroundRemover)."""
