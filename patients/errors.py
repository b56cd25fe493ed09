"""Errors of the cohort generator and loaders.

PatientsError       base; its message is shown to the user as one line
├── CohortError     a cohort folder is missing, incomplete, or fails its checksums
├── LoadError       loading a cohort into a FHIR server failed (nothing was kept)
└── ScenarioError   a scenario request the generator cannot satisfy
"""


class PatientsError(Exception):
    pass


class CohortError(PatientsError):
    pass


class LoadError(PatientsError):
    pass


class ScenarioError(PatientsError):
    """A scenario request names an unknown axis or state, or asks for too many patients."""
