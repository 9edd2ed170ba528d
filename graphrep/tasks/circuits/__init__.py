"""Capacitance prediction across circuit designs: GNN, CircuitGCL and count/GBM baselines."""
