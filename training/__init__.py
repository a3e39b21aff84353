"""Training and evaluation: fit the ranker (and, later, the encoder) on coded notes; score on CodiEsp."""
