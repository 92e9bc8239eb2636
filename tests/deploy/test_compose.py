"""The production shape (docker-compose.yml, Dockerfile, .env.example, deploy/) checked
against the Compose specification and the code, without a Docker engine: every command is
an `oms` command, every variable a setting, every host:port a service listening there,
every secret a required variable, every package the code imports copied into the image and
its data files in the installed package. Each check is also run on a broken copy, so a
check that cannot fail would fail here. The checks live in tests/deploy/compose_checks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from oms.codec import new_key_spec
from oms.settings import Settings
from tests.deploy import compose_checks as checks
from tests.deploy.compose_checks import (
    COMPOSE,
    DOCKERFILE,
    ENV_EXAMPLE,
    GRAFANA_PROVISIONING,
    PROMETHEUS_COMPOSE,
    PYPROJECT,
    ROOT,
    SANDBOX_ENV,
    Shape,
    load_shape,
    read_env_file,
)

COMPOSE_TEXT = COMPOSE.read_text()
DOCKERFILE_TEXT = DOCKERFILE.read_text()
ENV_TEXT = ENV_EXAMPLE.read_text()
SANDBOX_TEXT = SANDBOX_ENV.read_text()
PROMETHEUS = yaml.safe_load(PROMETHEUS_COMPOSE.read_text())
DATASOURCES = yaml.safe_load((GRAFANA_PROVISIONING / "datasources" / "prometheus.yml").read_text())
PRODUCTION_ENV = read_env_file(ENV_TEXT)
SANDBOX = {**PRODUCTION_ENV, **read_env_file(SANDBOX_TEXT)}


def production(compose: str = COMPOSE_TEXT) -> Shape:
    return load_shape(compose, PRODUCTION_ENV)


def sandbox(compose: str = COMPOSE_TEXT) -> Shape:
    return load_shape(compose, SANDBOX, frozenset({"sandbox"}))


def edited(edit: Any) -> str:
    """The compose file with ``edit(data)`` applied to its parsed form."""
    data = yaml.safe_load(COMPOSE_TEXT)
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def shape_problems(shape: Shape) -> list[str]:
    return (
        checks.check_references(shape, DOCKERFILE_TEXT, PROMETHEUS, DATASOURCES)
        + checks.check_healthchecks(shape, DOCKERFILE_TEXT)
        + checks.check_credentials(shape)
        + checks.check_variables(shape, ENV_TEXT)
        + checks.check_dependencies(shape)
        + checks.check_mounts(shape, ROOT)
    )


@pytest.fixture(scope="module")
def oms_commands() -> set[str]:
    return checks.oms_commands()


# --- the Compose specification ------------------------------------------------------------


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(binary), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    result = validate(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr

    def bogus(data: dict[str, Any]) -> None:
        data["services"]["api"]["replica_count"] = 2  # not a Compose key

    copy = tmp_path / "docker-compose.yml"
    copy.write_text(edited(bogus))
    result = validate(copy)
    assert result.returncode != 0
    assert "replica_count" in result.stdout + result.stderr


# --- the shape ----------------------------------------------------------------------------


def test_the_shape_has_every_part_and_scales() -> None:
    shape = production()
    services = shape.services
    assert {
        "postgres",
        "temporal-db",
        "temporal",
        "temporal-ui",
        "migrate",
        "api",
        "worker",
        "front",
        "prometheus",
        "grafana",
    } <= set(services)
    assert "sim" not in services  # only with the sandbox profile
    assert "sim" in sandbox().services
    for name in ("api", "worker"):
        assert services[name]["deploy"]["replicas"] >= 2
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert shape.command("migrate", DOCKERFILE_TEXT) == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    # Temporal's history lives on a PostgreSQL of its own, not on the OMS's.
    temporal = shape.environment("temporal")
    assert temporal["POSTGRES_SEEDS"] == "temporal-db"
    # The namespace the OMS uses exists: auto-setup makes it.
    assert temporal["SKIP_DEFAULT_NAMESPACE_CREATION"] == "false"
    assert temporal["DEFAULT_NAMESPACE"] == Settings.model_fields["temporal_namespace"].default
    assert "container_name" not in str(services)  # a scaled service cannot have one
    front = shape.command("front", DOCKERFILE_TEXT)
    assert front[:3] == ["front", "--port", "8000"] and "api:8000" in front
    assert shape.published()[8000] == ("front", 8000)
    worker_env = shape.environment("worker")
    assert worker_env["OMS_WORKER_METRICS_ADDRESS"].endswith(":9464")


def test_every_service_runs_an_oms_command(oms_commands: set[str]) -> None:
    assert {"api", "worker", "sim", "migrate"} <= oms_commands
    for shape in (production(), sandbox()):
        assert checks.check_commands(shape, DOCKERFILE_TEXT, oms_commands) == []

    def typo(data: dict[str, Any]) -> None:
        data["services"]["worker"]["command"] = ["workers"]

    problems = checks.check_commands(production(edited(typo)), DOCKERFILE_TEXT, oms_commands)
    assert problems == [
        f"worker: runs ['workers'], not an oms command ({sorted(oms_commands | {'front'})})"
    ]
    no_entrypoint = DOCKERFILE_TEXT.replace('ENTRYPOINT ["oms"]', 'ENTRYPOINT ["python"]')
    assert 'Dockerfile: ENTRYPOINT is not ["oms"]' in checks.check_commands(
        production(), no_entrypoint, oms_commands
    )


def test_every_address_points_at_a_service_listening_there() -> None:
    for shape in (production(), sandbox()):
        assert shape_problems(shape) == []
    # With the sandbox, the partners are the simulators, at the paths they serve (those
    # the settings default to when the simulators run beside the OMS).
    api_env = sandbox().environment("api")
    sim_port = int(sandbox().environment("sim")["OMS_SIM_PORT"])
    sim = Settings(
        host="sim", sim_port=sim_port, payment_gateway_url=None, wms_url=None, carrier_url=None
    )
    assert api_env["OMS_PAYMENT_GATEWAY_URL"] == sim.gateway_base_url
    assert api_env["OMS_WMS_URL"] == sim.wms_base_url
    assert api_env["OMS_CARRIER_URL"] == sim.carrier_base_url
    # The Web UI calls the API's codec where the API serves it, with the console's cookie.
    from api.routes.codec import console_router

    ui_env = production().environment("temporal-ui")
    assert urlsplit(ui_env["TEMPORAL_CODEC_ENDPOINT"]).path == console_router.prefix
    assert ui_env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    # Without it, real partners: outside the compose file, over HTTPS.
    api_env = production().environment("api")
    for key in ("OMS_PAYMENT_GATEWAY_URL", "OMS_WMS_URL", "OMS_CARRIER_URL"):
        assert api_env[key].startswith("https://"), key


def test_a_service_pointing_at_a_missing_host_or_port_fails() -> None:
    def missing_host(data: dict[str, Any]) -> None:
        data["services"]["sim"]["environment"]["OMS_API_URL"] = "http://apis:8000"

    assert "sim OMS_API_URL: 'apis' is no service of the compose file" in shape_problems(
        sandbox(edited(missing_host))
    )

    def wrong_port(data: dict[str, Any]) -> None:
        data["services"]["front"]["command"] = ["front", "--port", "8000", "--backend", "api:8080"]

    assert "front --backend: api:8080, but api listens on [8000]" in shape_problems(
        production(edited(wrong_port))
    )

    def moved_api(data: dict[str, Any]) -> None:  # the API on 9000, nothing else told
        data["services"]["api"]["environment"] = {
            **data["services"]["api"]["environment"],
            "OMS_API_PORT": "9000",
        }

    problems = shape_problems(production(edited(moved_api)))
    assert "front --backend: api:8000, but api listens on [9000]" in problems
    assert "prometheus job oms-api: api:8000, but api listens on [9000]" in problems
    assert "api: exposes 8000, where it does not listen" in problems
    assert "api: healthcheck on port 8000, where it does not listen" in problems

    def unpublished_ui(data: dict[str, Any]) -> None:
        data["services"]["temporal-ui"]["ports"] = ["8234:8080"]

    assert "api OMS_CODEC_ORIGINS: localhost:8233, a port no service publishes" in (
        shape_problems(production(edited(unpublished_ui)))
    )

    prometheus = {
        "scrape_configs": [
            {
                "job_name": "oms-worker",
                "dns_sd_configs": [{"names": ["workers"], "type": "A", "port": 9464}],
            }
        ]
    }
    assert "prometheus job oms-worker: 'workers' is no service of the compose file" in (
        checks.check_references(production(), DOCKERFILE_TEXT, prometheus, DATASOURCES)
    )
    datasources = {"datasources": [{"name": "Prometheus", "url": "http://prometheus:9091"}]}
    assert (
        "grafana datasource Prometheus: prometheus:9091, but prometheus listens on [9090]"
        in checks.check_references(production(), DOCKERFILE_TEXT, PROMETHEUS, datasources)
    )

    def unpinned(data: dict[str, Any]) -> None:
        data["services"]["grafana"]["image"] = "grafana/grafana"
        data["services"]["cache"] = {"image": "redis:7", "healthcheck": {"test": ["CMD", "true"]}}

    problems = shape_problems(production(edited(unpinned)))
    assert "grafana: grafana/grafana is not pinned to a version" in problems
    assert "cache: redis:7's port is unknown here (IMAGE_PORTS)" in problems

    def wrong_database(data: dict[str, Any]) -> None:
        env = data["x-oms-env"]
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(
            "@postgres:5432/oms", "@postgres:5432/orders"
        )
        for name in ("api", "worker", "sim", "migrate"):
            data["services"][name]["environment"] = {
                **data["services"][name]["environment"],
                "DATABASE_URL": env["DATABASE_URL"],
            }

    assert "api: DATABASE_URL's user, password or database is not postgres's" in (
        shape_problems(production(edited(wrong_database)))
    )


def test_every_wait_can_end() -> None:
    def broken(data: dict[str, Any]) -> None:
        del data["services"]["prometheus"]["healthcheck"]  # grafana waits for it healthy
        data["services"]["migrate"]["restart"] = "on-failure"  # api waits for it to exit
        data["services"]["front"]["depends_on"]["sim"] = {"condition": "service_started"}
        data["services"]["worker"]["volumes"] = ["workerdata:/data"]
        data["services"]["api"]["secrets"] = ["api_token"]

    problems = shape_problems(production(edited(broken)))
    for problem in (
        "grafana: waits for prometheus healthy, which has no healthcheck",
        "api: waits for migrate to complete, which restarts",
        "front: waits for sim, which does not run here",  # sim has the sandbox profile
        "worker: uses the volume workerdata, which is not declared",
        "api: uses the secret api_token, which is not declared",
    ):
        assert problem in problems, problems


def test_every_long_running_service_has_a_healthcheck() -> None:
    shape = production()
    for name, service in shape.services.items():
        if name != "migrate":
            assert service["healthcheck"]["test"], name

    def no_check(data: dict[str, Any]) -> None:
        del data["services"]["grafana"]["healthcheck"]

    assert "grafana: no healthcheck" in checks.check_healthchecks(
        production(edited(no_check)), DOCKERFILE_TEXT
    )


def test_every_oms_variable_is_a_setting() -> None:
    shape = sandbox()
    assert checks.check_variables(shape, ENV_TEXT) == []
    # Each exception is read by name where it says.
    for variable, path in checks.READ_BY_NAME.items():
        assert f'"{variable}"' in (ROOT / path).read_text(), (variable, path)
    # The settings the compose file gives every OMS process parse as the processes would.
    for name in ("api", "worker", "sim", "migrate"):
        env = {**shape.environment(name), "OMS_PAYLOAD_KEYS": new_key_spec()}
        with pytest.MonkeyPatch.context() as mp:
            for key in [k for k in os.environ if k.startswith("OMS_")]:
                mp.delenv(key)
            for key, value in env.items():
                mp.setenv(key, value)
            settings = Settings()
        assert settings.env == "production"
        assert settings.database_url and settings.temporal_address == "temporal:7233"

    def unknown(data: dict[str, Any]) -> None:
        data["services"]["worker"]["environment"]["OMS_WORKER_PROCESSES"] = "4"

    assert checks.check_variables(production(edited(unknown)), ENV_TEXT) == [
        "worker: OMS_WORKER_PROCESSES is no setting of oms.settings.Settings"
    ]
    assert checks.check_variables(production(), ENV_TEXT + "OMS_GATEWAY_URL=x\n") == [
        ".env.example: OMS_GATEWAY_URL is no setting of oms.settings.Settings"
    ]


def test_env_example_lists_every_variable_the_compose_file_reads() -> None:
    raw = yaml.safe_load(COMPOSE_TEXT)
    assert checks.check_env_example(raw, ENV_TEXT, SANDBOX_TEXT) == []
    # Every required variable is set in .env.example, so the file alone starts the shape.
    load_shape(COMPOSE_TEXT, PRODUCTION_ENV)
    with pytest.raises(checks.MissingVariable, match="OMS_PAYLOAD_KEYS"):
        load_shape(
            COMPOSE_TEXT, {k: v for k, v in PRODUCTION_ENV.items() if k != "OMS_PAYLOAD_KEYS"}
        )
    without = ENV_TEXT.replace("GRAFANA_ADMIN_PASSWORD=", "GRAFANA_PASSWORD=")
    assert checks.check_env_example(raw, without, SANDBOX_TEXT) == [
        ".env.example does not list GRAFANA_ADMIN_PASSWORD",
        ".env.example lists GRAFANA_PASSWORD, which the compose file never reads",
    ]


def test_secrets_come_from_the_environment_only() -> None:
    raw = yaml.safe_load(COMPOSE_TEXT)
    assert checks.check_secrets(raw) == []
    for value in read_env_file(ENV_TEXT).values():
        assert not value.startswith("sandbox-")  # OMS_ENV=production refuses those

    def literal(data: dict[str, Any]) -> None:
        data["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = "hunter2"
        data["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] = (
            "${GRAFANA_ADMIN_PASSWORD:-admin}"
        )
        data["services"]["migrate"]["environment"] = {
            "DATABASE_URL": "postgresql://oms:oms@postgres:5432/oms"
        }

    assert checks.check_secrets(yaml.safe_load(edited(literal))) == [
        "postgres: POSTGRES_PASSWORD is not a required variable (${POSTGRES_PASSWORD:?...})",
        "migrate: DATABASE_URL holds a password that is no required variable",
        "grafana: GF_SECURITY_ADMIN_PASSWORD is not a required variable"
        " (${GF_SECURITY_ADMIN_PASSWORD:?...})",
    ]


def test_the_interpolation_follows_compose() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert checks.interpolate("${SET:-d}/${EMPTY:-d}/${EMPTY-d}/${UNSET-d}", env) == "x/d//d"
    assert checks.interpolate("$$SET ${SET:+on} ${EMPTY:+on}. $SET", env) == "$SET on . x"
    with pytest.raises(checks.MissingVariable, match="EMPTY: say"):
        checks.interpolate("${EMPTY:?say}", env)
    assert checks.interpolate("${EMPTY?say}", env) == ""


# --- monitoring ---------------------------------------------------------------------------


def test_prometheus_and_grafana_get_the_files_in_deploy() -> None:
    shape = production()
    assert checks.check_mounts(shape, ROOT) == []
    mounts = {v.split(":")[0]: v.split(":")[1] for v in shape.services["prometheus"]["volumes"]}
    assert mounts["./deploy/prometheus/compose.yml"] == "/etc/prometheus/prometheus.yml"
    # alerts.yml sits beside the configuration, where rule_files names it.
    assert PROMETHEUS["rule_files"] == ["alerts.yml"]
    assert mounts["./deploy/prometheus/alerts.yml"] == "/etc/prometheus/alerts.yml"
    dev = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert [j["job_name"] for j in PROMETHEUS["scrape_configs"]] == [
        j["job_name"] for j in dev["scrape_configs"]
    ]  # the alerts select on job: both files name the jobs alike
    api_job = PROMETHEUS["scrape_configs"][0]
    secret = api_job["authorization"]["credentials_file"]
    assert secret == "/run/secrets/oms_metrics_token"
    assert "oms_metrics_token" in shape.services["prometheus"]["secrets"]
    assert yaml.safe_load(COMPOSE_TEXT)["secrets"]["oms_metrics_token"] == {
        "environment": "OMS_METRICS_TOKEN"
    }

    grafana = {v.split(":")[0]: v.split(":")[1] for v in shape.services["grafana"]["volumes"]}
    assert grafana["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((GRAFANA_PROVISIONING / "dashboards" / "oms.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert grafana["./deploy/grafana/oms-dashboard.json"] == f"{folder}/oms-dashboard.json"
    assert [d["type"] for d in DATASOURCES["datasources"]] == ["prometheus"]
    assert DATASOURCES["datasources"][0]["isDefault"] is True

    def missing(data: dict[str, Any]) -> None:
        data["services"]["grafana"]["volumes"][1] = "./deploy/grafana/dashboard.json:/x.json:ro"

    assert checks.check_mounts(production(edited(missing)), ROOT) == [
        "grafana: mounts ./deploy/grafana/dashboard.json, which does not exist"
    ]


# --- the image ----------------------------------------------------------------------------


def test_the_image_copies_every_package_the_code_imports() -> None:
    pyproject = PYPROJECT.read_text()
    assert checks.check_image(DOCKERFILE_TEXT, pyproject, ROOT) == []
    imported = checks.first_party_imports(ROOT, frozenset(checks.pyproject_packages(pyproject)))
    assert {"oms", "api", "worker", "workflows", "activities", "simulators"} <= set(imported)

    broken = DOCKERFILE_TEXT.replace("COPY simulators ./simulators\n", "")
    problems = checks.check_image(broken, pyproject, ROOT)
    assert "Dockerfile: no COPY of simulators/ (a package of pyproject.toml)" in problems
    assert any(p.startswith("Dockerfile: no COPY of simulators/, imported by ") for p in problems)
    assert "Dockerfile: no COPY of simulators/, named by an entry point" in problems

    as_root = DOCKERFILE_TEXT.replace("USER oms:oms", "USER nobody")
    assert checks.check_image(as_root, pyproject, ROOT) == [
        "Dockerfile: USER nobody, not a user of its own"
    ]
    not_installed = pyproject.replace('"devtools*",', "")
    assert "Dockerfile: copies devtools/, which pyproject.toml does not install" in (
        checks.check_image(DOCKERFILE_TEXT, not_installed, ROOT)
    )


def test_the_installed_package_holds_the_files_read_at_run_time() -> None:
    """A wheel built from the packages (as the image's `pip install .` builds one) holds
    every file of them: the console's templates and static files, the migrations. The
    alembic.ini at the root is for making new revisions only: nothing the image runs reads
    it (oms/db/migrate.py sets the scripts' location itself)."""
    packages = checks.pyproject_packages(PYPROJECT.read_text())
    with tempfile.TemporaryDirectory(prefix="oms-wheel-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            (source / name).write_bytes((ROOT / name).read_bytes())
        expected = set()
        for package in packages:
            for path in (ROOT / package).rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    relative = path.relative_to(ROOT)
                    expected.add(relative.as_posix())
                    (source / relative).parent.mkdir(parents=True, exist_ok=True)
                    (source / relative).write_bytes(path.read_bytes())
        out = Path(tmp) / "wheel"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--quiet",
                "-w",
                str(out),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        (wheel,) = out.glob("oms-*.whl")
        inside = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(expected - inside) == []
    assert {
        "api/console/templates/base.html",
        "api/console/static/console.css",
        "oms/db/migrations/script.py.mako",
        "oms/db/migrations/release_1.sql",
    } <= inside
    assert any(name.startswith("oms/db/migrations/versions/") for name in inside)
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            assert "alembic.ini" not in path.read_text(), path
