"""What every application trains with: the Lightning engine and its settings, checkpoints and run signatures,
metrics, seeded sampling, report writing and the ``--out`` policy. Imports no application (``graphrep.tasks``)."""
