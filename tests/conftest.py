"""Session-wide fixtures: the real local control plane and a real PostgreSQL (see tests/harness/)."""

pytest_plugins = ["harness.cluster", "harness.postgres", "harness.crds", "harness.operator", "harness.venue"]
