"""Pure reconciliation logic per kind: (spec, status, observed) -> plan."""
