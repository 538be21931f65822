"""The job engine: the typed Job record and its store, the dispatcher, running a job to its
outcome, backends into the model deployments, events, images, masks and housekeeping."""
