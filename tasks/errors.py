"""Errors of the task suite.

TaskError              base; its message is shown to the user as one line
├── SuiteError         unknown suite id, unreadable or tampered suite file, a cohort that
│                      cannot give the requested instances
├── UnknownTaskError   a task id or category that does not exist
├── ToolError          bad arguments to an agent tool (returned to the model as a tool result)
├── FhirClientError    the FHIR server could not be reached (transport failure, no HTTP reply)
└── SolveError         a reference solution got a reply it cannot work with
"""


class TaskError(Exception):
    pass


class SuiteError(TaskError):
    pass


class UnknownTaskError(TaskError):
    pass


class ToolError(TaskError):
    pass


class FhirClientError(TaskError):
    pass


class SolveError(TaskError):
    pass
