"""medcode's benchmarks: commands that measure and print speed, memory and accuracy (`make bench` …).

Not installed with medcode; run from a checkout: `python -m benchmarks.<name>`. Nothing imports them.
"""
