"""The audit plane: an append-only, per-object hash chain of every state transition.

``record`` defines the hashed form, ``chain`` verifies it (pure), ``store`` keeps it in PostgreSQL,
``kube`` builds the anchors the operator writes to Kubernetes, ``cli`` is ``tradeplane audit``.
"""
