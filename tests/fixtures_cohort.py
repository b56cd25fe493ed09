"""Fixtures (placeholder until filled by its owner)."""
