"""Next-location prediction on check-ins: TrajMoE training, transfer between cities, count baselines."""
