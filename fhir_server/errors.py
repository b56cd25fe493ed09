"""Errors of the FHIR server.

FhirServerError                base of the package's errors
├── FhirError                  an HTTP-level FHIR failure; becomes an OperationOutcome
│   (status, code = OperationOutcome.issue.code, diagnostics, expression)
└── StoreError                 the storage layer failed (bad database path, corrupt file)
    └── StoreFormatError       the database was written by another medagent version
"""

from __future__ import annotations


class FhirServerError(Exception):
    """Base of every error the fhir_server package raises on purpose."""


class StoreError(FhirServerError):
    pass


class StoreFormatError(StoreError):
    """The database's on-disk format is not this version's (re-seed it)."""


class FhirError(FhirServerError):
    """A failure answered with an OperationOutcome."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        code: str = "processing",
        expression: list[str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code
        self.expression = expression or []

    def operation_outcome(self) -> dict:
        issue: dict = {
            "severity": "error" if self.status < 500 else "fatal",
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = self.expression
        return {"resourceType": "OperationOutcome", "issue": [issue]}
