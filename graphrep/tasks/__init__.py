"""The applications, one package each: ``molecules``, ``circuits``, ``mobility``, ``tag``, ``modalities``. Each holds
its loops, baselines and evaluation protocol, trains on :mod:`graphrep.train`, and imports no other application."""
