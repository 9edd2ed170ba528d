"""Training and evaluation: loops, metrics, zero-shot and linear-probe evaluation."""
