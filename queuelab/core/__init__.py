"""Pure vocabulary shared by both engines: scenario, tasks, load models, policies, metrics, theory.

Nothing here imports the rest of QueueLab, does I/O or reads a clock."""
