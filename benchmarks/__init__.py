"""Benchmarks that print their figures (`python -m benchmarks.<name>`); outside the installed packages."""
