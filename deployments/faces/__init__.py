"""Face restoration: dlib detection and alignment, GFPGAN, paste-back (the FaceRestorer)."""
