"""photoserve control plane: HTTP, auth, credits, jobs, storage. Imports no model code."""
