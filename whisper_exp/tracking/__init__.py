"""Experiment tracking: which logger a run writes to (W&B online/offline, CSV, none)."""
