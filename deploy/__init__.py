"""Deployment helpers: a private PostgreSQL cluster and ``make run-cluster`` (docs/deployment.md)."""
