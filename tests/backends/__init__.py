"""Backend tests: the shared contract suite and each backend's own tests."""
