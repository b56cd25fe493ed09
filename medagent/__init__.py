"""medagent: a benchmark environment for AI agents working inside a FHIR R4 EHR."""

__version__ = "0.1.0"

__all__ = ["__version__"]
