"""Harts sharing guest memory, tasks, a deterministic scheduler and code patching."""
