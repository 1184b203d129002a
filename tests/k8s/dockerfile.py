"""A small Dockerfile reader for static checks (no Docker engine here).

It understands what the service Dockerfiles use: parser directives and comments,
backslash line continuations, global and stage ARGs with `${NAME}` defaults,
multi-stage `FROM ... AS name`, and the JSON (exec) form of instructions. It also
reads `.dockerignore` files (Docker's rules: patterns in order, the last match
wins, `!` re-includes, `**` spans directories) so tests can tell what a build
context contains, and it can replay a builder stage on the host (see `replay`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass
class Instruction:
    keyword: str  # upper case
    value: str  # the rest of the logical line, continuations joined
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction, else None."""
        text = self.value.strip()
        if not text.startswith("["):
            return None
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
        return None

    def flags(self) -> dict[str, str]:
        """Leading --name=value flags (COPY --from=builder ...)."""
        found: dict[str, str] = {}
        for token in self.value.split():
            if not token.startswith("--"):
                break
            name, _, val = token[2:].partition("=")
            found[name] = val
        return found

    def arguments(self) -> list[str]:
        """Shell-form words after the leading flags."""
        words = self.value.split()
        while words and words[0].startswith("--"):
            words.pop(0)
        return words


@dataclass
class Stage:
    base: str  # the FROM image with ARGs substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    stages: list[Stage]
    directives: dict[str, str]
    comments: list[str]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)


def substitute(text: str, variables: dict[str, str]) -> str:
    return _VAR.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def logical_lines(text: str) -> tuple[list[tuple[int, str]], dict[str, str], list[str]]:
    """Join continuations; return (line number, text) pairs, directives and comments."""
    directives: dict[str, str] = {}
    comments: list[str] = []
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    in_header = True
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            match = re.match(r"#\s*(\w+)\s*=\s*(.+)$", stripped)
            if in_header and match and not pending:
                directives[match.group(1).lower()] = match.group(2).strip()
            else:
                in_header = False
                comments.append(stripped.lstrip("#").strip())
            continue
        in_header = False
        if not stripped and not pending:
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        lines.append((start, " ".join(pending)))
    return lines, directives, comments


def parse(text: str) -> Dockerfile:
    lines, directives, comments = logical_lines(text)
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=substitute(words[0], global_args), name=name))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"line {number}: {keyword} before the first FROM")
            arg_name, _, default = rest.partition("=")
            global_args[arg_name.strip()] = default.strip().strip('"')
        else:
            stages[-1].instructions.append(Instruction(keyword, rest, number))
    if not stages:
        raise ValueError("no FROM instruction")
    return Dockerfile(stages=stages, directives=directives, comments=comments)


def load(path: Path) -> Dockerfile:
    return parse(path.read_text())


# --- .dockerignore ---------------------------------------------------------------------------


def _segment_regex(segment: str) -> str:
    """One path segment of a Go filepath.Match pattern: `*` and `?` never match `/`."""
    out, i = [], 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in segment[i + 1 :]:
            end = segment.index("]", i + 1)
            body = segment[i + 1 : end]
            if body.startswith(("!", "^")):
                body = "^" + body[1:]
            out.append(f"[{body}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    segments = pattern.split("/")
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex += ".*" if last else "(?:.*/)?"
            continue
        regex += _segment_regex(segment) + ("" if last else "/")
    return re.compile(f"^{regex}$", re.DOTALL)


@dataclass
class DockerIgnore:
    rules: list[tuple[bool, re.Pattern[str]]]  # (exclude?, pattern)

    @classmethod
    def read(cls, path: Path) -> DockerIgnore:
        rules = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclude = not line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((exclude, _pattern_regex(pattern)))
        return cls(rules)

    def excluded(self, relative: str) -> bool:
        """Docker semantics: a path is excluded by the last rule matching it or a parent."""
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for exclude, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                result = exclude
        return result


# --- replaying a builder stage on the host ---------------------------------------------------


@dataclass
class Replay:
    """Run one stage's COPY/WORKDIR/ENV/ARG/RUN on the host, under `root` instead of `/`.

    Absolute paths in ENV values and RUN commands that name a directory created by the
    stage (WORKDIR or a COPY destination) or an ENV path are mapped under `root`; the
    interpreter path in UV_PYTHON is replaced by `python`. `pip install` commands are
    skipped (the host's uv stands in for the pinned one). Anything else is an error, so
    the replay never silently diverges from the Dockerfile.
    """

    context: Path
    root: Path
    python: str
    ignore: DockerIgnore | None = None
    env: dict[str, str] = field(default_factory=dict)
    prefixes: set[str] = field(default_factory=set)
    workdir: str = "/"
    log: list[str] = field(default_factory=list)

    def host(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def _map(self, text: str) -> str:
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            text = re.sub(
                rf"(?<![\w/.]){re.escape(prefix)}(?=/|\b|$)", str(self.host(prefix)), text
            )
        return text

    def _copy(self, sources: list[str], dest: str) -> None:
        target_dir = dest if dest.startswith("/") else f"{self.workdir.rstrip('/')}/{dest}"
        self.prefixes.add("/" + target_dir.strip("/").split("/")[0])
        for source in sources:
            src = self.context / source
            if not src.exists():
                raise FileNotFoundError(f"COPY source {source} is missing from the build context")
            if self.ignore and self.ignore.excluded(source):
                raise FileNotFoundError(f"COPY source {source} is excluded by .dockerignore")
            out = self.host(target_dir)
            if src.is_dir():
                for path in src.rglob("*"):
                    rel = path.relative_to(self.context).as_posix()
                    if path.is_dir() or (self.ignore and self.ignore.excluded(rel)):
                        continue
                    dest_file = out / path.relative_to(src)
                    dest_file.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, dest_file)
            else:
                if dest.endswith("/"):
                    out.mkdir(parents=True, exist_ok=True)
                    out = out / src.name
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)

    def run(self, stage: Stage, args: dict[str, str]) -> None:
        variables = dict(args)
        for instruction in stage.instructions:
            kw, value = instruction.keyword, instruction.value
            if kw == "ARG":
                name, _, default = value.partition("=")
                variables.setdefault(name.strip(), default.strip().strip('"'))
            elif kw == "ENV":
                for name, val in re.findall(r'(\w+)=("[^"]*"|\S+)', value):
                    val = substitute(val.strip('"'), {**variables, **self.env})
                    if name == "UV_PYTHON":
                        val = self.python
                    elif val.startswith("/"):
                        self.prefixes.add("/" + val.strip("/").split("/")[0])
                    self.env[name] = val
                    variables[name] = val
            elif kw == "WORKDIR":
                self.workdir = value
                self.prefixes.add("/" + value.strip("/").split("/")[0])
                self.host(value).mkdir(parents=True, exist_ok=True)
            elif kw == "COPY":
                if "from" in instruction.flags():
                    raise ValueError(f"line {instruction.line}: COPY --from is not replayable")
                *sources, dest = instruction.arguments()
                self._copy(sources, dest)
            elif kw == "RUN":
                if re.match(r"^(python3? -m )?pip install\b", value):
                    self.log.append(f"skipped: {value}")
                    continue
                # Like Docker: `/bin/sh -c`, ARG and ENV values in the environment.
                mapped = self._map(value)
                environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
                environment.update(variables)
                environment.update({k: self._map(v) for k, v in self.env.items()})
                self.log.append(f"run: {mapped}")
                result = subprocess.run(
                    ["/bin/sh", "-c", mapped],
                    cwd=self.host(self.workdir),
                    env=environment,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if result.returncode != 0:
                    raise RuntimeError(
                        f"line {instruction.line}: {mapped!r} failed ({result.returncode}):\n"
                        f"{result.stdout[-2000:]}{result.stderr[-4000:]}"
                    )
            else:
                raise ValueError(f"line {instruction.line}: {kw} is not replayable")
