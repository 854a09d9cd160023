"""Many runs at once: plan a grid, classify what exists, train the rest on a backend, keep the manifest."""
