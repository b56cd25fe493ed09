"""``manifest.json``: what a cohort folder holds, with a sha256 of every NDJSON file.

``checksum`` (the *cohort checksum* recorded in suites, results and submissions) is the
sha256 of the per-file sha256 hex digests concatenated in sorted resource-type order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import CohortError

MANIFEST = "manifest.json"


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    count: int
    sha256: str


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    generator_version: str
    profile: str = "mab-v1"  # the cohort profile (patients.profiles)
    seed: int
    n_patients: int
    now: str
    files: dict[str, FileEntry]
    total: int
    checksum: str
    scenarios: dict[str, dict[str, list[str]]]

    @staticmethod
    def checksum_of(files: dict[str, FileEntry]) -> str:
        return hashlib.sha256("".join(files[t].sha256 for t in sorted(files)).encode()).hexdigest()

    @property
    def counts(self) -> dict[str, int]:
        return {t: f.count for t, f in self.files.items()}

    @classmethod
    def load(cls, directory: str | Path) -> Manifest:
        path = Path(directory) / MANIFEST
        try:
            return cls.model_validate(orjson.loads(path.read_bytes()))
        except FileNotFoundError:
            raise CohortError(f"no {MANIFEST} in {directory}: not a cohort folder") from None
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise CohortError(f"{path} is not a valid cohort manifest: {str(exc).splitlines()[0]}") from None

    def dump(self) -> bytes:
        return orjson.dumps(self.model_dump(), option=orjson.OPT_INDENT_2) + b"\n"

    def write(self, directory: str | Path) -> None:
        (Path(directory) / MANIFEST).write_bytes(self.dump())

    def verify(self, directory: str | Path) -> None:
        """Raise ``CohortError`` unless every listed file exists with its recorded sha256."""
        if self.checksum != self.checksum_of(self.files):
            raise CohortError(f"{directory}/{MANIFEST}: checksum does not match its file list")
        for rtype, entry in self.files.items():
            path = Path(directory) / entry.path
            try:
                with path.open("rb") as fh:
                    digest = hashlib.file_digest(fh, "sha256").hexdigest()
            except FileNotFoundError:
                raise CohortError(f"cohort file missing: {path}") from None
            if digest != entry.sha256:
                raise CohortError(f"cohort file {path} is corrupt (sha256 mismatch for {rtype})")
