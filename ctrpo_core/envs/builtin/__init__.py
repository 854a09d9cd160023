"""Built-in demo tasks: pure numpy, batched, no MuJoCo."""
