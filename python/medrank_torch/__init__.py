"""MedRank's PyTorch twin: the browser's experiment, step for step, on CPUs, GPUs and clusters."""

__version__ = "0.1.0"
