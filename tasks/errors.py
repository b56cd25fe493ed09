"""Errors of the task suite.

TaskError              base; its message is shown to the user as one line
├── SuiteError         unknown suite id, unreadable or tampered suite file
├── UnknownTaskError   a task id or category that does not exist
└── ToolError          bad arguments to an agent tool (returned to the model as a tool result)
"""


class TaskError(Exception):
    pass


class SuiteError(TaskError):
    pass


class UnknownTaskError(TaskError):
    pass


class ToolError(TaskError):
    pass
