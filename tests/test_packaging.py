"""train.sh / classify.sh choose Docker or local; the Dockerfile installs what README says."""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fake_docker(folder: Path, engine_answers: bool) -> Path:
    folder.mkdir()
    script = folder / "docker"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$@" >> "{folder}/calls.log"\n'
        f'if [[ "$1" == info ]]; then exit {0 if engine_answers else 1}; fi\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def script_env(bin_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}:{Path(sys.executable).parent}:{env['PATH']}"
    env.pop("LLMCLF_RUNNER", None)
    return env


def run_script(name: str, *args: str, cwd: Path, env: dict[str, str], timeout: float = 120):
    return subprocess.run([REPO / name, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_scripts_run_local_llmclf_when_no_docker_engine_answers(tmp_path):
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=False)
    env = script_env(bin_dir)
    classes = ["--class", "cat: Cats meow and purr", "--class", "dog: Dogs bark"]
    train = run_script("train.sh", *classes, "--save", "models/p.model", cwd=tmp_path, env=env)
    assert train.returncode == 0, train.stderr
    assert "no Docker engine answered; running local" in train.stderr
    assert (tmp_path / "models" / "p.model").exists()
    classify = run_script("classify.sh", "--load", "models/p.model", "woof", cwd=tmp_path, env=env)
    assert classify.returncode == 0, classify.stderr
    assert json.loads(classify.stdout)["prediction"] == "dog"
    assert "run" not in (bin_dir / "calls.log").read_text().split()


def test_scripts_use_docker_with_models_mount_and_openai_env_by_name(tmp_path):
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    env = script_env(bin_dir) | {"OPENAI_API_KEY": "sk-secret-value", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    proc = run_script("train.sh", "--class", "a: x", "--save", "models/p.model", cwd=tmp_path, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "running in Docker image llmclf:latest" in proc.stderr
    run_line = next(line for line in (bin_dir / "calls.log").read_text().splitlines() if line.startswith("run "))
    assert f"-v {tmp_path}/models:/work/models" in run_line
    assert "-e OPENAI_API_KEY" in run_line and "-e OPENAI_BASE_URL" in run_line
    assert "sk-secret-value" not in run_line and "sk-secret-value" not in proc.stderr
    assert run_line.endswith("llmclf:latest train --class a: x --save models/p.model")


def test_dockerfile_installs_the_way_readme_says():
    dockerfile = (REPO / "Dockerfile").read_text()
    readme = (REPO / "README.md").read_text()
    (install,) = re.findall(r"^RUN (pip install .*)$", dockerfile, re.M)
    assert install.replace("--no-cache-dir ", "") == "pip install ."
    assert "pip install ." in readme
    copied = {p for line in re.findall(r"^COPY (.*) \S+$", dockerfile, re.M) for p in line.split()}
    assert {"pyproject.toml", "README.md", "llmclf"} <= copied  # what setuptools needs to build the package
    assert re.search(r'^ENTRYPOINT \["llmclf"\]$', dockerfile, re.M)
