"""Benchmarks that print the project's figures (`python -m benchmarks.<name>`); outside the installed packages."""
