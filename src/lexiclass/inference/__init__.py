"""Using a finished run: predict, evaluate, serve, explain."""
