"""A small Dockerfile reader, so tests can run what the image would run.

It understands the instructions deploy/Dockerfile uses and refuses the ones it
does not know, so a new instruction makes a test fail loudly instead of being
silently skipped.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import shlex
from dataclasses import dataclass, field
from pathlib import Path

KNOWN = {
    "FROM",
    "ENV",
    "ARG",
    "LABEL",
    "RUN",
    "WORKDIR",
    "COPY",
    "USER",
    "EXPOSE",
    "HEALTHCHECK",
    "CMD",
    "ENTRYPOINT",
    "STOPSIGNAL",
}


@dataclass(frozen=True)
class Copy:
    """One COPY line: sources in the build context, destination in the image."""

    sources: list[str]
    dest: str  # absolute, WORKDIR applied
    flags: list[str]


@dataclass(frozen=True)
class Run:
    """One RUN line with the WORKDIR, USER and ENV it runs under."""

    script: str
    workdir: str
    user: str
    env: dict[str, str]

    def commands(self) -> list[list[str]]:
        """The simple commands of a ``a && b && c`` script, each as argv."""
        commands: list[list[str]] = []
        for part in self.script.split("&&"):
            argv = shlex.split(part)
            if argv:
                commands.append(argv)
        return commands


@dataclass
class Dockerfile:
    """The parts of a Dockerfile the tests look at."""

    path: Path
    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    workdir: str = "/"
    user: str = "root"
    healthcheck: list[str] = field(default_factory=list)
    healthcheck_options: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Dockerfile:
        """Parse ``path``; raises ValueError on an instruction it cannot read."""
        image = cls(path=path)
        for keyword, rest in _instructions(path.read_text(encoding="utf-8")):
            image._apply(keyword, rest)
        return image

    def _apply(self, keyword: str, rest: str) -> None:
        if keyword not in KNOWN:
            raise ValueError(f"{self.path}: instruction {keyword} is not understood")
        if keyword == "FROM":
            self.base = rest.split()[0]
        elif keyword == "ENV":
            self.env.update(_pairs(rest))
        elif keyword == "RUN":
            self.runs.append(Run(rest, self.workdir, self.user, dict(self.env)))
        elif keyword == "WORKDIR":
            self.workdir = posixpath.normpath(posixpath.join(self.workdir, rest))
        elif keyword == "COPY":
            self.copies.append(self._copy(rest))
        elif keyword == "USER":
            self.user = rest.strip()
        elif keyword == "EXPOSE":
            self.expose.extend(rest.split())
        elif keyword == "HEALTHCHECK":
            self.healthcheck_options, self.healthcheck = _healthcheck(rest)
        elif keyword == "CMD":
            self.cmd = _exec_form(rest, keyword)
        elif keyword == "ENTRYPOINT":
            self.entrypoint = _exec_form(rest, keyword)

    def _copy(self, rest: str) -> Copy:
        words = shlex.split(rest)
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        if len(paths) < 2:
            raise ValueError(f"{self.path}: COPY {rest!r} needs a source and a dest")
        dest = posixpath.join(self.workdir, paths[-1])
        if paths[-1].endswith("/") and not dest.endswith("/"):
            dest += "/"
        return Copy(sources=paths[:-1], dest=dest, flags=flags)

    def ignore_patterns(self) -> list[str]:
        """Patterns of ``<Dockerfile>.dockerignore`` beside the Dockerfile."""
        ignore = self.path.with_name(self.path.name + ".dockerignore")
        if not ignore.exists():
            return []
        lines = ignore.read_text(encoding="utf-8").splitlines()
        return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, rest) for every instruction, continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, rest = pending.strip().partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = ""
    if pending.strip():
        raise ValueError("Dockerfile ends inside a continued line")
    return result


def _pairs(rest: str) -> dict[str, str]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # legacy ``ENV KEY value``
    return dict(word.split("=", 1) for word in words)


def _exec_form(rest: str, keyword: str) -> list[str]:
    try:
        argv = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{keyword} must use the exec (JSON) form: {rest}") from exc
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"{keyword} must be a JSON list of strings: {rest}")
    return argv


def _healthcheck(rest: str) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    words = rest.split(" ")
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        options[key] = value
    remainder = " ".join(w for w in words if w)
    keyword, _, command = remainder.partition(" ")
    if keyword.upper() != "CMD":
        raise ValueError(f"HEALTHCHECK must run a CMD, got {rest!r}")
    return options, _exec_form(command.strip(), "HEALTHCHECK CMD")


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Whether a context path matches a .dockerignore pattern (no ``!`` rules)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            bare = pattern.removeprefix("**/")
            if any(fnmatch.fnmatch(part, bare) for part in parts):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            return True
    return False
