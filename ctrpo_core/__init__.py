"""C-TRPO Explorer: training core for Constrained Trust Region Policy Optimization."""

__version__ = "0.1.0"
