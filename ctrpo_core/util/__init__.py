"""The floor every layer may use: atomic file writes, stop signals, the cores this process may run on."""
