"""Embedded defaults for one machine: a local Kubernetes control plane and PostgreSQL."""
