"""Benchmarks that print their figures (accuracy, speed), run as `python -m benchmarks.<name>`."""
