"""``deploy/compose.yaml`` holds together without a Docker daemon: the parts the deployment needs,
settings vidrec accepts, and (where ``docker-compose`` is installed) the Compose schema."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRETS = {
    "POSTGRES_PASSWORD": "pw",
    "VIDREC_VLLM_KEY": "key",
    "RAY_AUTH_TOKEN": "tok",
    "MODELS_DIR": "/srv/models",
}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _interpolate(value: str) -> str:
    """Compose's ``${VAR:?message}`` / ``${VAR:-default}`` with the test's secrets."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in SECRETS:
            return SECRETS[name]
        assert op == ":-", f"${{{name}}} has no default and is not a documented secret"
        return rest

    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", one, value)


def test_every_part_of_the_deployment_is_there() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "chroma", "vllm", "migrate", "api", "lb"} <= set(services)
    assert {"ray-head", "ray-worker"} <= set(services)
    assert services["api"]["deploy"]["replicas"] >= 2
    assert "api" in services["lb"]["depends_on"]
    vllm = " ".join(services["vllm"]["command"])
    served = re.search(r"--served-model-name=(\S+)", vllm)
    assert served is not None and "--model=" in vllm
    assert services["api"]["environment"]["VIDREC_LLM__MODEL"] == served.group(1)
    worker = " ".join(services["ray-worker"]["command"])
    assert "--address=ray-head:" in worker
    # the inputs at the same path on the driver (head) and every worker
    media = [v for v in services["ray-head"]["volumes"] if str(v).endswith(":/media:ro")]
    assert media and media == services["ray-worker"]["volumes"]


@pytest.mark.parametrize("service", ["api", "ray-head", "ray-worker", "migrate"])
def test_the_vidrec_settings_in_the_compose_file_are_accepted(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _compose()["services"][service]["environment"]
    names = set(Settings.model_fields)
    for key, value in env.items():
        if not key.startswith("VIDREC_"):
            continue
        section = key.removeprefix("VIDREC_").split("__")[0].lower()
        assert section in names, f"{key}: vidrec has no setting {section!r}"
        monkeypatch.setenv(key, _interpolate(str(value)))
    settings = Settings()  # unknown keys inside a section are errors (extra="forbid")
    assert settings.llm.backend == "vllm"
    assert settings.sql_url.startswith("postgresql+psycopg://")


def test_docker_compose_validates_the_file() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    done = subprocess.run(
        [exe, "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        env={**os.environ, **SECRETS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
