"""Content problems with a place: `path:line: field.path: message`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    field: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {'warning: ' if self.warning else ''}{what}"


class ContentError(Exception):
    """Raised once with every problem found, so the CLI can print them all and exit 1."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(map(str, self.problems)))


@dataclass
class Collector:
    """Gathers problems while loading; paths are shown relative to `base`."""
    base: Path
    problems: list[Problem] = field(default_factory=list)
    root: Path | None = None  # the content folder: files outside it are never read
    files: dict[Path, tuple[int, str]] = field(default_factory=dict)  # read -> (mtime_ns before reading, git blob id)

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.base.resolve()))
        except ValueError:
            return str(path)

    def add(self, path: Path, line: int, field_path: str, message: str, warning: bool = False) -> None:
        self.problems.append(Problem(self.rel(path), line, field_path, message, warning))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]
