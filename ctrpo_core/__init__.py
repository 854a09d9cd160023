"""C-TRPO Explorer: training core for Constrained Trust Region Policy Optimization.

The layers, each importing only the ones listed before it:
util → envs → config → engine → algos, tabular → runs → sweeps → results → reports, tools → ui, api, cli.
"""

__version__ = "0.1.0"
