"""Pydantic models of every custom resource kind, the single source of truth for the CRD YAML."""
