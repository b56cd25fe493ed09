"""Errors of the ``medagent`` package (CLI, harness, results, leaderboard).

MedagentError            base; its message is shown to the user as one line (exit code 2)
├── ConfigError          bad flags, settings or agent specs
├── ProviderError        an LLM provider failed after all retries (recorded on the trial)
│   └── ProviderUnavailable  the model cannot be used at all (unreachable, key refused,
│                            unknown model): the run stops (exit code 3)
├── FhirBackendError     the FHIR server failed during a trial after retries (recorded on the trial)
├── ResultsError         an unreadable or inconsistent run folder
└── SubmissionError      a leaderboard submission that fails verification

``exit_code`` is what the ``medagent`` command returns when the error ends it.
"""


class MedagentError(Exception):
    """Base of every error the medagent package raises on purpose."""

    exit_code = 2


class ConfigError(MedagentError):
    pass


class ProviderError(MedagentError):
    pass


class ProviderUnavailable(ProviderError):
    """No trial can succeed: the endpoint is unreachable, refuses the key or lacks the model."""

    exit_code = 3


class FhirBackendError(MedagentError):
    pass


class ResultsError(MedagentError):
    pass


class SubmissionError(MedagentError):
    pass
