"""The headless commands behind `queuelab run`, `queuelab scenario …`, `queuelab worker`."""
