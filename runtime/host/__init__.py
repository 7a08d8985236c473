"""What a tradeplane process keeps on the machine it runs on: the state directory, atomically written
state records, and the detached child processes those records describe.

The local workload driver and the embedded system both use these, so they live here and
``embedded/`` depends on them, never the reverse.
"""
