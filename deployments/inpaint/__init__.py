"""Prompt inpainting with Stable Diffusion (the Inpainter)."""
