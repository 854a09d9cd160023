"""What users do with runs beyond training them: evaluate, export, render, the demo, the claims check."""
