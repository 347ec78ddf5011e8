"""The virtual-time engine: a discrete-event simulation of a scenario."""
