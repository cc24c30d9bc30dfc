"""Kubernetes' own conformance suite (e2e.test) against nestkube clusters, built offline."""
