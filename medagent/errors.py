"""Errors of the ``medagent`` package (CLI, harness, results, leaderboard).

MedagentError            base; its message is shown to the user as one line
├── ConfigError          bad flags, settings or agent specs
├── ProviderError        an LLM provider failed after all retries
├── ResultsError         an unreadable or inconsistent run folder
└── SubmissionError      a leaderboard submission that fails verification
"""


class MedagentError(Exception):
    """Base of every error the medagent package raises on purpose."""


class ConfigError(MedagentError):
    pass


class ProviderError(MedagentError):
    pass


class ResultsError(MedagentError):
    pass


class SubmissionError(MedagentError):
    pass
