"""Session-wide fixtures: the real local control plane and a real PostgreSQL (see tests/harness/).

Hypothesis runs derandomized (the same examples every run: fixed seeds, no flaky failures) and
without its wall-clock checks (deadlines, slow-generation health check), which only measure how
busy the machine is.
"""

from hypothesis import HealthCheck, settings

pytest_plugins = ["harness.cluster", "harness.postgres", "harness.crds", "harness.operator", "harness.venue"]

settings.register_profile(
    "tradeplane", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("tradeplane")
