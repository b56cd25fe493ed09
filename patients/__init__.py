"""patients package."""
