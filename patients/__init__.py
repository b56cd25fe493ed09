"""Deterministic synthetic patient cohort for medagent (FHIR R4 Bulk Data NDJSON).

``generate(out_dir, seed, n_patients, now)`` writes one ``<Type>.ndjson`` per resource
type plus ``manifest.json`` (``Manifest``); ``ensure_cohort`` caches cohorts under
``$MEDAGENT_HOME/cohorts``; ``seed_store`` bulk-loads one into a ``fhir_server.Store``;
``patients.http_load.load_over_http`` loads one into any FHIR R4 server with transaction Bundles.
Scenario axes (chart situations the tasks rely on) are documented in ``patients.scenarios``;
cohort profiles (``mab-v1``, ``edge-v1``, how to add one) in ``patients.profiles``.
"""

from ._generate import DEFAULT_PATIENTS, DEFAULT_SEED, GENERATOR_VERSION, TYPES, generate
from ._time import NOW
from .cache import cohort_dir, ensure_cohort
from .errors import CohortError, LoadError, PatientsError, ScenarioError
from .manifest import Manifest
from .profiles import DEFAULT_PROFILE, Profile, get_profile, profiles
from .marker import ensure_marker
from .seeding import seed_store

__all__ = [
    "DEFAULT_PATIENTS", "DEFAULT_PROFILE", "DEFAULT_SEED", "Profile", "get_profile", "profiles", "GENERATOR_VERSION", "NOW", "TYPES", "CohortError",
    "LoadError", "Manifest", "PatientsError", "ScenarioError", "cohort_dir", "ensure_cohort",
    "ensure_marker", "generate", "seed_store",
]
