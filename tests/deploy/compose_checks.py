"""Checks of the production shape (docker-compose.yml, the Dockerfile, .env.example and the
files under deploy/) against the code, without a Docker engine.

Each check takes the files' contents and returns the problems it found, one line each, so
that the tests can run it on the real files (no problem) and on broken copies (the problem
named). tests/deploy/test_compose.py holds the tests; docs/deployment.md says what is
checked and what is not.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import AliasChoices

from oms.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
SANDBOX_ENV = ROOT / "deploy" / "sandbox.env"
PYPROJECT = ROOT / "pyproject.toml"
PROMETHEUS_COMPOSE = ROOT / "deploy" / "prometheus" / "compose.yml"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"

# OMS_* variables that are not fields of oms.settings.Settings but are read by name with
# os.environ, with the file that reads each (checked: the name must be in that file).
READ_BY_NAME = {
    "OMS_API_KEY": "oms/operator_cli.py",
    "OMS_DEV_SEED": "devtools/dev.py",
    "OMS_CHROMIUM": "devtools/console_screenshots.py",
}

# The port each third-party image listens on, and the variable that moves it, if any.
IMAGE_PORTS: dict[str, tuple[int, str | None]] = {
    "postgres": (5432, None),
    "temporalio/auto-setup": (7233, None),
    "temporalio/ui": (8080, "TEMPORAL_UI_PORT"),
    "prom/prometheus": (9090, None),
    "grafana/grafana": (3000, "GF_SERVER_HTTP_PORT"),
}

# Partner URLs: the only ones that may point outside the compose file (real partners).
EXTERNAL_URLS = frozenset(
    {"OMS_PAYMENT_GATEWAY_URL", "OMS_WMS_URL", "OMS_CARRIER_URL", "OMS_ALERT_WEBHOOK_URL"}
)
# Names that hold a secret: their value must be a required variable, `${NAME:?message}`.
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|_KEY$|_KEYS$|TOKEN$")
# Secret-looking names that are flags, not secrets.
NOT_SECRETS = frozenset({"TEMPORAL_CODEC_PASS_ACCESS_TOKEN"})
REQUIRED_REF = re.compile(r"^\$\{[A-Za-z_]\w*:\?[^}]*\}$")
LOOPBACK = frozenset({"localhost", "127.0.0.1"})

# Compose's interpolation: $$, ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
# ${NAME?error}, ${NAME:+other}, ${NAME+other}, $NAME.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_]\w*))"
)


class MissingVariable(ValueError):
    """A required variable (``${NAME:?message}``) is unset or empty."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return str(value)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    return _VARIABLE.sub(one, text)


def variables_read(raw: Any) -> set[str]:
    """Every variable the compose file reads: in its values and as secrets' sources."""
    found: set[str] = set()
    for text in _strings(raw):
        for match in _VARIABLE.finditer(text):
            if not match.group("escaped"):
                found.add(match.group("braced") or match.group("named"))
    for secret in (raw.get("secrets") or {}).values():
        if isinstance(secret, dict) and secret.get("environment"):
            found.add(secret["environment"])
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _resolve(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, dict):
        return {k: _resolve(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, env) for v in value]
    return value


def read_env_file(text: str, *, commented: bool = False) -> dict[str, str]:
    """NAME=value lines; with ``commented``, also ``# NAME=value`` (optional settings)."""
    pattern = r"^\s*(#\s*)?([A-Za-z_]\w*)=(.*)$"
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(pattern, line)
        if match and (commented or not match.group(1)):
            out[match.group(2)] = match.group(3).strip()
    return out


@dataclass
class Shape:
    """The compose file as Compose would run it for one environment and set of profiles."""

    raw: dict[str, Any]
    env: dict[str, str]
    profiles: frozenset[str] = frozenset()
    services: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        resolved = _resolve(self.raw, self.env)
        self.services = {
            name: service
            for name, service in resolved["services"].items()
            if not service.get("profiles") or set(service["profiles"]) & self.profiles
        }

    def environment(self, name: str) -> dict[str, str]:
        env = self.services[name].get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        return {k: "" if v is None else str(v) for k, v in env.items()}

    def is_oms(self, name: str) -> bool:
        return "build" in self.services[name]

    def command(self, name: str, dockerfile: str) -> list[str]:
        command = self.services[name].get("command")
        if command is None:
            return dockerfile_exec(dockerfile, "CMD") or []
        return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]

    def listens_on(self, name: str, dockerfile: str) -> set[int]:
        """The ports a service's process listens on, from its command and environment."""
        env = self.environment(name)
        if self.is_oms(name):
            command = self.command(name, dockerfile)
            role = command[0] if command else ""
            defaults = Settings.model_fields
            if role == "api":
                return {int(env.get("OMS_API_PORT") or defaults["api_port"].default)}
            if role == "sim":
                return {int(env.get("OMS_SIM_PORT") or defaults["sim_port"].default)}
            if role == "worker":
                address = env.get("OMS_WORKER_METRICS_ADDRESS")
                return {int(address.rsplit(":", 1)[1])} if address else set()
            if role == "front" and "--port" in command:
                return {int(command[command.index("--port") + 1])}
            return set()
        image = str(self.services[name].get("image", "")).rsplit(":", 1)[0]
        if image not in IMAGE_PORTS:
            return set()
        port, variable = IMAGE_PORTS[image]
        return {int(env.get(variable) or port) if variable else port}

    def published(self) -> dict[int, tuple[str, int]]:
        """Host port -> (service, container port) for every published port."""
        out: dict[int, tuple[str, int]] = {}
        for name, service in self.services.items():
            for host, target in _ports(service):
                if host is not None:
                    out[host] = (name, target)
        return out


def _ports(service: dict[str, Any]) -> Iterator[tuple[int | None, int]]:
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            yield (int(published) if published else None), int(entry["target"])
            continue
        parts = str(entry).split("/")[0].split(":")
        if len(parts) == 1:
            yield None, int(parts[0])
        else:
            yield int(parts[-2]), int(parts[-1])


def dockerfile_exec(dockerfile: str, instruction: str) -> list[str] | None:
    """The exec form of the last ENTRYPOINT or CMD of a Dockerfile."""
    found = None
    for line in dockerfile.splitlines():
        match = re.match(rf"^\s*{instruction}\s+(\[.*\])\s*$", line)
        if match:
            found = [str(part) for part in yaml.safe_load(match.group(1))]
    return found


def load_shape(
    compose: str, env: Mapping[str, str], profiles: frozenset[str] = frozenset()
) -> Shape:
    return Shape(yaml.safe_load(compose), dict(env), profiles)


# --- the checks ---------------------------------------------------------------------------


def oms_commands() -> set[str]:
    """The subcommands `oms --help` lists, run from this environment's installed `oms`."""
    oms = Path(sys.executable).parent / "oms"
    out = subprocess.run(
        [str(oms), "--help"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    match = re.search(r"\{([\w,-]+)\}", out)
    assert match, out
    return set(match.group(1).split(","))


def check_commands(shape: Shape, dockerfile: str, known: set[str]) -> list[str]:
    problems = []
    if dockerfile_exec(dockerfile, "ENTRYPOINT") != ["oms"]:
        problems.append('Dockerfile: ENTRYPOINT is not ["oms"]')
    allowed = known
    for name in shape.services:
        if not shape.is_oms(name):
            continue
        command = shape.command(name, dockerfile)
        if not command or command[0] not in allowed:
            problems.append(f"{name}: runs {command!r}, not an oms command ({sorted(allowed)})")
    return problems


def settings_variables() -> set[str]:
    names = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
        else:
            names.add(f"OMS_{name.upper()}")
    return names


def check_variables(shape: Shape, env_example: str) -> list[str]:
    """Every variable an OMS process is given is one it reads, and every OMS_* variable of
    .env.example is a setting."""
    known = settings_variables() | set(READ_BY_NAME)
    problems = []
    for name in shape.services:
        if not shape.is_oms(name):
            continue
        for variable in shape.environment(name):
            if variable not in known:
                problems.append(f"{name}: {variable} is no setting of oms.settings.Settings")
    for variable in read_env_file(env_example, commented=True):
        if variable.startswith("OMS_") and variable not in known:
            problems.append(f".env.example: {variable} is no setting of oms.settings.Settings")
    return problems


def check_env_example(raw: dict[str, Any], env_example: str, sandbox_env: str) -> list[str]:
    """.env.example lists every variable the compose file reads, and only those; the
    sandbox's file only overrides variables .env.example has."""
    listed = set(read_env_file(env_example, commented=True))
    read = variables_read(raw)
    problems = [f".env.example does not list {v}" for v in sorted(read - listed)]
    problems += [
        f".env.example lists {v}, which the compose file never reads" for v in sorted(listed - read)
    ]
    for variable in read_env_file(sandbox_env):
        if variable not in read:
            problems.append(
                f"deploy/sandbox.env sets {variable}, which the compose file never reads"
            )
    return problems


def check_secrets(raw: dict[str, Any]) -> list[str]:
    """Secrets come from the environment only: a secret's value is ``${NAME:?message}`` and
    a URL's password too; nothing holds a literal one."""
    problems = []
    for name, service in raw["services"].items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        for key, value in env.items():
            value = "" if value is None else str(value)
            if SECRET_NAME.search(key) and key not in NOT_SECRETS:
                if not REQUIRED_REF.match(value):
                    problems.append(f"{name}: {key} is not a required variable (${{{key}:?...}})")
            password = re.match(r"^[a-z+]+://[^:/@]+:([^@]*)@", value)
            if password and not REQUIRED_REF.match(password.group(1)):
                problems.append(f"{name}: {key} holds a password that is no required variable")
    return problems


def check_healthchecks(shape: Shape, dockerfile: str) -> list[str]:
    """Every long-running service has a healthcheck, on a port it listens on."""
    problems = []
    for name, service in shape.services.items():
        one_shot = service.get("restart") == "no"
        check = service.get("healthcheck")
        if one_shot:
            continue
        if not check or check.get("disable"):
            problems.append(f"{name}: no healthcheck")
            continue
        test = check["test"]
        text = test if isinstance(test, str) else " ".join(str(t) for t in test)
        ports = {int(p) for p in re.findall(r"(?:127\.0\.0\.1|localhost)'?(?::|,\s*)(\d+)", text)}
        ports |= {int(p) for p in re.findall(r"(?:^|\s)-p\s+(\d+)", text)}
        own = re.findall(rf"\b{re.escape(name)}:(\d+)", text)
        ports |= {int(p) for p in own}
        if not ports and "pg_isready" not in text:
            problems.append(f"{name}: its healthcheck names no port")
        for port in ports - shape.listens_on(name, dockerfile):
            problems.append(f"{name}: healthcheck on port {port}, where it does not listen")
    return problems


@dataclass(frozen=True)
class Reference:
    where: str
    host: str
    port: int
    external_ok: bool = False


def _url(
    where: str, url: str, default_port: int | None = None, external_ok: bool = False
) -> Reference:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    port = parts.port or default_port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return Reference(where, parts.hostname or "", port, external_ok)


def references(
    shape: Shape, dockerfile: str, prometheus: dict[str, Any], datasources: dict[str, Any]
) -> list[Reference]:
    """Every host:port one part of the shape uses to reach another."""
    refs = []
    for name in shape.services:
        env = shape.environment(name)
        if shape.is_oms(name):
            for key, value in env.items():
                where = f"{name} {key}"
                if key == "DATABASE_URL":
                    refs.append(_url(where, value, 5432))
                elif key == "TEMPORAL_ADDRESS":
                    refs.append(_url(where, value))
                elif key.endswith("_URL") and value:
                    refs.append(_url(where, value, external_ok=key in EXTERNAL_URLS))
                elif key == "OMS_CODEC_ORIGINS":
                    refs += [_url(where, o.strip()) for o in value.split(",") if o.strip()]
            command = shape.command(name, dockerfile)
            for i, arg in enumerate(command):
                if arg == "--backend":
                    refs.append(_url(f"{name} --backend", command[i + 1]))
        if "TEMPORAL_ADDRESS" in env and not shape.is_oms(name):
            refs.append(_url(f"{name} TEMPORAL_ADDRESS", env["TEMPORAL_ADDRESS"]))
        if env.get("TEMPORAL_CODEC_ENDPOINT"):
            refs.append(_url(f"{name} TEMPORAL_CODEC_ENDPOINT", env["TEMPORAL_CODEC_ENDPOINT"]))
        if env.get("POSTGRES_SEEDS"):
            port = int(env.get("DB_PORT") or 5432)
            for seed in env["POSTGRES_SEEDS"].split(","):
                refs.append(Reference(f"{name} POSTGRES_SEEDS", seed.strip(), port))
        for dependency in shape.services[name].get("depends_on") or {}:
            refs.append(Reference(f"{name} depends_on", dependency, 0))
    for job in prometheus.get("scrape_configs", []):
        where = f"prometheus job {job['job_name']}"
        for sd in job.get("dns_sd_configs", []):
            for target in sd["names"]:
                refs.append(Reference(where, target, int(sd["port"])))
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                refs.append(_url(where, target))
    for source in datasources.get("datasources", []):
        refs.append(_url(f"grafana datasource {source['name']}", source["url"]))
    return refs


def check_references(
    shape: Shape, dockerfile: str, prometheus: dict[str, Any], datasources: dict[str, Any]
) -> list[str]:
    """Every host:port points at a service of the compose file that listens there (port 0:
    the service must exist), or at a port the host publishes for browsers (localhost)."""
    problems = []
    published = shape.published()
    for ref in references(shape, dockerfile, prometheus, datasources):
        if ref.host in shape.services:
            listening = shape.listens_on(ref.host, dockerfile)
            if ref.port and ref.port not in listening:
                where = f"{ref.where}: {ref.host}:{ref.port}"
                problems.append(f"{where}, but {ref.host} listens on {sorted(listening)}")
        elif ref.host in LOOPBACK:
            if ref.port not in published:
                problems.append(f"{ref.where}: {ref.host}:{ref.port}, a port no service publishes")
            else:
                service, target = published[ref.port]
                if target not in shape.listens_on(service, dockerfile):
                    problems.append(
                        f"{ref.where}: {ref.port} is {service}:{target}, where it does not listen"
                    )
        elif not (ref.external_ok and "." in ref.host):
            problems.append(f"{ref.where}: {ref.host!r} is no service of the compose file")
    for name, service in shape.services.items():
        if not shape.is_oms(name):
            image = str(service.get("image", ""))
            base, _, tag = image.rpartition(":") if ":" in image else (image, "", "")
            if base not in IMAGE_PORTS:
                problems.append(f"{name}: {image}'s port is unknown here (IMAGE_PORTS)")
            if not tag or tag == "latest":
                problems.append(f"{name}: {image} is not pinned to a version")
        listening = shape.listens_on(name, dockerfile)
        for _, target in _ports(service):
            if target not in listening:
                problems.append(
                    f"{name}: publishes {target}, where it does not listen ({sorted(listening)})"
                )
        for port in service.get("expose") or []:
            if int(str(port).split("/")[0]) not in listening:
                problems.append(f"{name}: exposes {port}, where it does not listen")
    return problems


def check_credentials(shape: Shape) -> list[str]:
    """The OMS's DATABASE_URL and Temporal's database settings match their PostgreSQL's."""
    problems = []
    for name in shape.services:
        env = shape.environment(name)
        url = env.get("DATABASE_URL")
        if shape.is_oms(name) and url:
            parts = urlsplit(url)
            db = shape.environment(parts.hostname or "") if parts.hostname in shape.services else {}
            expected = (
                db.get("POSTGRES_USER"),
                db.get("POSTGRES_PASSWORD"),
                db.get("POSTGRES_DB") or db.get("POSTGRES_USER"),
            )
            if (parts.username, parts.password, parts.path.lstrip("/")) != expected:
                problems.append(
                    f"{name}: DATABASE_URL's user, password or database is not {parts.hostname}'s"
                )
        seeds = env.get("POSTGRES_SEEDS")
        if seeds and seeds in shape.services:
            db = shape.environment(seeds)
            if (env.get("POSTGRES_USER"), env.get("POSTGRES_PWD")) != (
                db.get("POSTGRES_USER"),
                db.get("POSTGRES_PASSWORD"),
            ):
                problems.append(f"{name}: POSTGRES_USER/POSTGRES_PWD are not {seeds}'s")
    return problems


def check_mounts(shape: Shape, root: Path) -> list[str]:
    """Every file a service mounts from the repository exists; every named volume and
    secret a service uses is declared."""
    problems = []
    volumes = set(shape.raw.get("volumes") or {})
    secrets = set(shape.raw.get("secrets") or {})
    for name, service in shape.services.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith(("./", "../", "/")):
                if source.startswith(".") and not (root / source).exists():
                    problems.append(f"{name}: mounts {source}, which does not exist")
            elif source not in volumes:
                problems.append(f"{name}: uses the volume {source}, which is not declared")
        for secret in service.get("secrets") or []:
            secret_name = secret if isinstance(secret, str) else secret.get("source")
            if secret_name not in secrets:
                problems.append(f"{name}: uses the secret {secret_name}, which is not declared")
    return problems


def check_dependencies(shape: Shape) -> list[str]:
    """Each wait can end: a service waited for as healthy has a healthcheck, one waited for
    as completed is a one-shot, and every service waited for runs in the same profiles."""
    problems = []
    for name, service in shape.services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, how in depends.items():
            if target not in shape.services:
                problems.append(f"{name}: waits for {target}, which does not run here")
                continue
            condition = (how or {}).get("condition", "service_started")
            other = shape.services[target]
            if condition == "service_healthy" and not other.get("healthcheck"):
                problems.append(f"{name}: waits for {target} healthy, which has no healthcheck")
            if condition == "service_completed_successfully" and other.get("restart") != "no":
                problems.append(f"{name}: waits for {target} to complete, which restarts")
    return problems


# --- the image ----------------------------------------------------------------------------


def pyproject_packages(pyproject: str) -> set[str]:
    import tomllib

    config = tomllib.loads(pyproject)
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*").rstrip(".") for pattern in include}


def copied(dockerfile: str) -> set[str]:
    """The top-level names the Dockerfile copies into the image."""
    names = set()
    for line in dockerfile.splitlines():
        match = re.match(r"^\s*COPY\s+(?:--\S+\s+)*(.+)$", line)
        if match:
            for source in match.group(1).split()[:-1]:
                names.add(source.strip("./").split("/")[0])
    return names


@lru_cache
def first_party_imports(root: Path, packages: frozenset[str]) -> dict[str, set[str]]:
    """Top-level first-party modules imported by the packages' code -> the files importing
    them (a directory of the checkout with an __init__.py is first-party)."""
    first_party = {p.name for p in root.iterdir() if (p / "__init__.py").exists()}
    found: dict[str, set[str]] = {}
    for package in sorted(packages):
        for path in (root / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for module in names:
                    top = module.split(".")[0]
                    if top in first_party:
                        found.setdefault(top, set()).add(str(path.relative_to(root)))
    return found


def entry_point_packages(pyproject: str) -> set[str]:
    import tomllib

    config = tomllib.loads(pyproject)
    targets = list(config["project"]["scripts"].values())
    for group in config["project"].get("entry-points", {}).values():
        targets += list(group.values())
    return {target.split(":")[0].split(".")[0] for target in targets}


def check_image(dockerfile: str, pyproject: str, root: Path) -> list[str]:
    dockerfile = dockerfile.replace("\\\n", " ")  # continued lines as one
    problems = []
    packages = pyproject_packages(pyproject)
    in_image = copied(dockerfile)
    for package in sorted(packages - in_image):
        problems.append(f"Dockerfile: no COPY of {package}/ (a package of pyproject.toml)")
    for package in sorted((in_image & {p.name for p in root.iterdir() if p.is_dir()}) - packages):
        problems.append(f"Dockerfile: copies {package}/, which pyproject.toml does not install")
    for module, files in sorted(first_party_imports(root, frozenset(packages)).items()):
        if module not in in_image:
            problems.append(f"Dockerfile: no COPY of {module}/, imported by {sorted(files)[0]}")
        if module not in packages:
            problems.append(
                f"pyproject.toml does not install {module}/, imported by {sorted(files)[0]}"
            )
    for module in sorted(entry_point_packages(pyproject) - in_image):
        problems.append(f"Dockerfile: no COPY of {module}/, named by an entry point")
    if "pyproject.toml" not in in_image:
        problems.append("Dockerfile: no COPY of pyproject.toml")
    users = re.findall(
        r"useradd\b[^\n]*?--uid\s+(\d+)[^\n]*?\s([a-z_][\w-]*)\s*$", dockerfile, re.M
    )
    user = re.findall(r"^\s*USER\s+(\S+)", dockerfile, re.M)
    if not user:
        problems.append("Dockerfile: no USER: the processes would run as root")
    else:
        name = user[-1].split(":")[0]
        if name in {"root", "0", "nobody", "65534"}:
            problems.append(f"Dockerfile: USER {name}, not a user of its own")
        elif name not in {u for _, u in users}:
            problems.append(
                f"Dockerfile: USER {name} is not created with a fixed uid (useradd --uid)"
            )
    return problems
