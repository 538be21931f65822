"""Starting and running the service on one machine: `photoserve run`, the CLI, the embedded Redis
and the state a local install keeps."""
