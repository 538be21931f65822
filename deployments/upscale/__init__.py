"""Real-ESRGAN: the Upscaler deployment (upscale and enhance), tiling, ncnn and PyTorch runtimes."""
