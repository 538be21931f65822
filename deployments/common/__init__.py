"""What every model deployment shares: replica setup, device, weights, memory, checkpoints,
batching and colour steps."""
