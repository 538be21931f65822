"""The data plane: one folder per model family, each a Ray Serve deployment that turns arrays
into arrays (never Redis or HTTP); common/ holds what they share."""
