"""train.sh / classify.sh choose Docker or local; the Dockerfile installs what README says."""

import json
import os
import re
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fake_docker(folder: Path, engine_answers: bool, image_label: str | None = None) -> Path:
    """A `docker` that records its argv; `image inspect` prints ``image_label`` (or fails: no image)."""
    folder.mkdir()
    script = folder / "docker"
    inspect = f"echo {image_label}; exit 0" if image_label is not None else "exit 1"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\0" "$@" >> "{folder}/argv.bin"; printf "\\n" >> "{folder}/argv.bin"\n'
        f'echo "$@" >> "{folder}/calls.log"\n'
        f'if [[ "$1" == info ]]; then exit {0 if engine_answers else 1}; fi\n'
        f'if [[ "$1" == image && "$2" == inspect ]]; then {inspect}; fi\n'
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


def docker_runs(bin_dir: Path) -> list[list[str]]:
    """The argv of every recorded `docker` call, split exactly as the script passed it."""
    calls = (bin_dir / "argv.bin").read_bytes().split(b"\0\n")
    return [[a.decode() for a in c.split(b"\0") if a] for c in calls if c.strip(b"\n")]


def the_run(bin_dir: Path) -> list[str]:
    (run,) = [c for c in docker_runs(bin_dir) if c[0] == "run"]
    return run


def test_docker_run_mounts_data_cache_and_folders_runs_as_the_user_and_maps_the_host(tmp_path):
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (elsewhere / "train.csv").write_text("text,label\n")
    env = script_env(bin_dir) | {
        "OPENAI_API_KEY": "sk-secret-value",
        "OPENAI_BASE_URL": "http://localhost:11434/v1",
        "LLMCLF_HOME": str(tmp_path / "data"),
        "LLMCLF_CACHE_DIR": str(tmp_path / "cache"),
        "LLMCLF_EMBEDDER": "fast",  # llmclf outside would use it: so must llmclf in the container
        "LLMCLF_VECTOR_CACHE": "0",
        "NO_COLOR": "1",
    }
    args = ["--class", "a: x", "--data", str(elsewhere / "train.csv"), "--save", "out/p.model"]
    proc = run_script("train.sh", *args, cwd=work, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    run = the_run(bin_dir)
    pairs = {(run[i], run[i + 1]) for i in range(len(run) - 1)}
    assert ("-v", f"{work}:{work}") in pairs and ("-w", str(work)) in pairs  # read-write, at its own path
    assert ("-v", f"{elsewhere}:{elsewhere}") in pairs  # a file outside the folder is visible
    assert ("-v", f"{tmp_path / 'data'}:/llmclf/data") in pairs and (
        "-v",
        f"{tmp_path / 'cache'}:/llmclf/cache",
    ) in pairs
    assert ("--user", f"{os.getuid()}:{os.getgid()}") in pairs
    assert "--add-host=host.docker.internal:host-gateway" in run
    assert ("-e", "OPENAI_API_KEY") in pairs and ("-e", "OPENAI_BASE_URL") in pairs
    assert {("-e", name) for name in ("LLMCLF_EMBEDDER", "LLMCLF_VECTOR_CACHE", "NO_COLOR")} <= pairs
    assert [run[i + 1] for i in range(len(run) - 1) if run[i] == "-e" and "LLMCLF_HOME" in run[i + 1]] == [
        "LLMCLF_HOME=/llmclf/data"
    ]
    assert "sk-secret-value" not in " ".join(run) and "sk-secret-value" not in proc.stderr
    assert run[-(len(args) + 2) :] == ["llmclf:latest", "train", *args]


def test_docker_mounts_where_a_save_outside_the_folder_will_land_even_before_it_exists(tmp_path):
    """`--save ../out/new/p.model`: the folders do not exist yet, and llmclf makes them. Unmounted, the
    bundle was written inside the container, reported as saved, and gone with it."""
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    work, outside = tmp_path / "work", tmp_path / "outside"
    (work / "sub").mkdir(parents=True)
    outside.mkdir()
    env = script_env(bin_dir)
    cases = [
        ("train.sh", ["--class", "a: x", "--save", str(outside / "new" / "deeper" / "p.model")], outside),
        ("train.sh", ["--class", "a: x", "--save=../up/p.model"], tmp_path),
        ("classify.sh", ["--load", "m.model", "--data", "x.parquet", "-o", str(outside / "o" / "x.parquet")], outside),
        ("classify.sh", ["--load", "m.model", "--db", str(outside / "logs" / "runs.db"), "woof"], outside),  # a new log
        ("classify.sh", ["--load", "m.model", "--db=../logs/runs.db", "woof"], tmp_path),
        # a path that leaves the folder part-way: it was taken for one inside it and never mounted
        ("classify.sh", ["--load", "sub/../../outside/m.model", "woof"], outside),
        ("train.sh", ["--class", "a: x", "--save", "./../outside/q/p.model"], outside),
    ]
    for script, args, mounted in cases:
        (bin_dir / "argv.bin").unlink(missing_ok=True)
        proc = run_script(script, *args, cwd=work, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        run = the_run(bin_dir)
        assert ("-v", f"{mounted}:{mounted}") in {(run[i], run[i + 1]) for i in range(len(run) - 1)}, (args, run)
    (bin_dir / "argv.bin").unlink()
    text = run_script("classify.sh", "--load", "m.model", "/no/such/folder is just text", cwd=work, env=env)
    run = the_run(bin_dir)
    assert text.returncode == 0 and not [
        run[i + 1] for i in range(len(run) - 1) if run[i] == "-v" and "/no" in run[i + 1]
    ]
    nowhere = run_script("train.sh", "--class", "a: x", "--save", "/no-such-top-folder/p.model", cwd=work, env=env)
    assert nowhere.returncode == 2 and "create it first" in nowhere.stderr


def test_docker_gets_a_home_folder_after_an_equals_sign_as_the_hosts(tmp_path):
    """`--save=~/m.model`: the shell leaves that ~ alone, and llmclf in the container made it the container's home:
    the bundle was reported saved and went with the container."""
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {**script_env(bin_dir), "HOME": str(home)}
    proc = run_script(
        "train.sh", "--class", "a: x", "--save=~/models/p.model", "--class=~/not a path", cwd=work, env=env
    )
    assert proc.returncode == 0, proc.stderr
    run = the_run(bin_dir)
    assert f"--save={home}/models/p.model" in run and "--class=~/not a path" in run
    assert ("-v", f"{home}:{home}") in {(run[i], run[i + 1]) for i in range(len(run) - 1)}, run


def test_docker_mounts_a_relative_data_dir_by_its_path_and_a_folder_with_a_colon_with_mount(tmp_path):
    """LLMCLF_HOME=home went to docker as "-v home:/llmclf/data", a named volume: the run log lived in Docker, not in
    ./home. A folder named "run 12:30" broke -v, which splits on ':'."""
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    work = tmp_path / "run 12:30"
    work.mkdir()
    env = script_env(bin_dir) | {"LLMCLF_HOME": "home", "LLMCLF_CACHE_DIR": "../cache"}
    proc = run_script("classify.sh", "--load", "m.model", "woof", cwd=work, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    run = the_run(bin_dir)
    pairs = {(run[i], run[i + 1]) for i in range(len(run) - 1)}
    assert ("--mount", f'type=bind,"source={work / "home"}","target=/llmclf/data"') in pairs
    assert ("-v", f"{tmp_path / 'cache'}:/llmclf/cache") in pairs and (work / "home").is_dir()
    assert ("--mount", f'type=bind,"source={work}","target={work}"') in pairs
    assert not [v for flag, v in pairs if flag == "-v" and "12:30" in v]


def test_docker_mounts_where_links_in_the_folder_lead(tmp_path):
    """models/ linked to a folder elsewhere, or data.csv linked to a file elsewhere: only the current folder was
    mounted, so in the container the link led nowhere and the bundle was saved inside it and lost."""
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    work, big, files = tmp_path / "work", tmp_path / "big" / "models", tmp_path / "files"
    for folder in (work, big, files):
        folder.mkdir(parents=True)
    (work / "models").symlink_to(big)
    (files / "data.csv").write_text("text,label\nwoof,dog\n")
    (work / "data.csv").symlink_to(files / "data.csv")
    (work / "texts.txt").write_text("woof\n")
    env = script_env(bin_dir)
    cases = [
        ("train.sh", ["--class", "a: x", "--save", "models/new/p.model"], [big]),
        ("train.sh", ["--class", "a: x", "--data", "data.csv", "--save=models/p.model"], [files, big]),
        ("classify.sh", ["--load", "models/p.model", "-i", "texts.txt", "woof"], [big]),
    ]
    for script, args, mounted in cases:
        (bin_dir / "argv.bin").unlink(missing_ok=True)
        proc = run_script(script, *args, cwd=work, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        run = the_run(bin_dir)
        volumes = [run[i + 1] for i in range(len(run) - 1) if run[i] == "-v"]
        assert all(f"{m}:{m}" in volumes for m in mounted), (args, volumes)
        assert f"{tmp_path}:{tmp_path}" not in volumes and f"{work}:{work}" in volumes


def test_docker_passes_a_localhost_llm_url_as_the_hosts_address(tmp_path):
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    (bin_dir / "docker").write_text(
        (bin_dir / "docker")
        .read_text()
        .replace("exit 0\n", 'echo "URL=$OPENAI_BASE_URL" >> "' + str(bin_dir) + '/env.log"\nexit 0\n', 1)
    )
    env = script_env(bin_dir) | {"OPENAI_BASE_URL": "http://localhost:11434/v1"}
    assert run_script("classify.sh", "--load", "m.model", "x", cwd=tmp_path, env=env).returncode == 0
    assert "URL=http://host.docker.internal:11434/v1" in (bin_dir / "env.log").read_text()


def test_image_is_rebuilt_when_its_source_label_differs_and_not_when_it_matches(tmp_path):
    stale = fake_docker(tmp_path / "stale", engine_answers=True, image_label="0123456789abcdef")
    proc = run_script("classify.sh", "--load", "m.model", "x", cwd=tmp_path, env=script_env(stale))
    builds = [c for c in docker_runs(stale) if c[0] == "build"]
    assert proc.returncode == 0 and len(builds) == 1
    label = next(a for a in builds[0] if a.startswith("org.llmclf.source-hash="))
    current = fake_docker(tmp_path / "current", engine_answers=True, image_label=label.split("=", 1)[1])
    assert run_script("classify.sh", "--load", "m.model", "x", cwd=tmp_path, env=script_env(current)).returncode == 0
    assert [c for c in docker_runs(current) if c[0] == "build"] == []
    missing = fake_docker(tmp_path / "missing", engine_answers=True)
    run_script("classify.sh", "--load", "m.model", "x", cwd=tmp_path, env=script_env(missing))
    assert [c[0] for c in docker_runs(missing)].count("build") == 1


def test_the_source_hash_needs_no_sha256sum_as_on_macos(tmp_path):
    """macOS has shasum, not sha256sum: the docker path died in source_hash before building anything."""
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    system = tmp_path / "system"  # every command of this machine but sha256sum
    system.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(folder).iterdir() if Path(folder).is_dir() else ():
            if tool.name != "sha256sum" and not (system / tool.name).exists():
                (system / tool.name).symlink_to(tool)
    env = script_env(bin_dir) | {"PATH": f"{bin_dir}:{system}"}
    with_shasum = run_script("classify.sh", "--load", "m.model", "x", cwd=tmp_path, env=env)
    assert with_shasum.returncode == 0, with_shasum.stderr
    (build,) = [c for c in docker_runs(bin_dir) if c[0] == "build"]
    label = next(a for a in build if a.startswith("org.llmclf.source-hash="))
    (bin_dir / "argv.bin").unlink()
    run_script("classify.sh", "--load", "m.model", "x", cwd=tmp_path, env=script_env(bin_dir))
    (again,) = [c for c in docker_runs(bin_dir) if c[0] == "build"]
    assert label in again  # shasum -a 256 and sha256sum give the same hash


def test_the_wrappers_use_no_bash_4_syntax():
    """macOS ships bash 3.2: `declare -A` (the mounted-folder set) failed there. No bash 3.2 runs here, so this
    checks for the bash 4 forms by name; an empty array under `set -u` must be guarded as well."""
    bash4 = [r"declare -A", r"\bmapfile\b", r"\breadarray\b", r"\$\{\w+,,", r"\$\{\w+\^\^", r"\|&", r"&>>"]
    for name in ("scripts/run-llmclf.sh", "train.sh", "classify.sh"):
        text = (REPO / name).read_text()
        assert not [p for p in bash4 if re.search(p, text)], name
        assert '"${tty_flag[@]}"}' in text or "tty_flag" not in text  # ${a[@]+"${a[@]}"}: bash 3.2 calls () unset


def test_an_unknown_runner_is_refused(tmp_path):
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    proc = run_script("train.sh", "--help", cwd=tmp_path, env=script_env(bin_dir) | {"LLMCLF_RUNNER": "bogus"})
    assert proc.returncode == 2 and "LLMCLF_RUNNER must be auto, local or docker, not 'bogus'" in proc.stderr
    assert not (bin_dir / "argv.bin").exists() or "run" not in (bin_dir / "calls.log").read_text().split()


def test_dockerignore_keeps_build_litter_out_of_the_image():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".venv", ".ci-venv", "build", ".pytest_cache", "models", ".git"} <= ignored


def test_dockerfile_installs_the_way_readme_says():
    dockerfile = (REPO / "Dockerfile").read_text()
    readme = (REPO / "README.md").read_text()
    (install,) = re.findall(r"^RUN (pip install .*)$", dockerfile, re.M)
    # --embedder fast and Parquet in and out work in the image, as they do in a local install with those extras
    assert install.replace("--no-cache-dir ", "") == "pip install '.[fast,parquet]'"
    assert "pip install ." in readme
    copied = {p for line in re.findall(r"^COPY (.*) \S+$", dockerfile, re.M) for p in line.split()}
    assert {"pyproject.toml", "README.md", "llmclf"} <= copied  # what setuptools needs to build the package
    assert re.search(r'^ENTRYPOINT \["llmclf"\]$', dockerfile, re.M)


def test_docker_gets_a_terminal_only_when_stdin_stdout_and_stderr_are_one(tmp_path):
    """With -t, docker merges the container's stderr into stdout: `classify.sh ... 2>log` in a terminal put the
    notices and progress on the screen, not in the log."""
    bin_dir = fake_docker(tmp_path / "bin", engine_answers=True)
    env = script_env(bin_dir)
    script = REPO / "classify.sh"
    ttys = {}
    for case, redirect in (("terminal", ""), ("stdout to a file", "> out.jsonl"), ("stderr to a file", "2> err.log")):
        (bin_dir / "argv.bin").unlink(missing_ok=True)
        command = f"{script} --load m.model woof {redirect}"
        done = subprocess.run(["script", "-qec", command, "/dev/null"], cwd=tmp_path, env=env, capture_output=True)
        assert done.returncode == 0, done
        ttys[case] = "-t" in the_run(bin_dir)
    assert ttys == {"terminal": True, "stdout to a file": False, "stderr to a file": False}


def test_docker_gets_pipes_the_shell_made_through_a_shared_folder(pets_bundle, tmp_path):
    """`classify.sh --load <(curl ...)` handed the container the shell's /dev/fd/63, which it cannot open (and
    mounted /dev/fd). Pipes are now copied through a folder shared with the container. This `docker` runs the
    CLI here, as the container would, and refuses a /dev/fd path as the container could not open it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        '[[ "$1" == run ]] || exit 0\n'
        'while [[ "$1" != llmclf:latest ]]; do shift; done; shift\n'
        'for a in "$@"; do [[ "$a" == */dev/fd/* ]] && { echo "docker: cannot open $a" >&2; exit 125; }; done\n'
        f'exec {sys.executable} -m llmclf "$@"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    relays = tmp_path / "tmp"
    relays.mkdir()
    env = script_env(bin_dir) | {"TMPDIR": str(relays)}
    out = tmp_path / "piped.model"
    commands = {
        "load": f"{REPO}/classify.sh --no-log --load <(cat {pets_bundle}) woof",
        "save": f"{REPO}/train.sh --class 'a: apples' --class 'b: bananas' --save >(cat > {out})",
    }
    done = {
        name: subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        for name, cmd in commands.items()
    }
    assert done["load"].returncode == 0, done["load"].stderr
    assert json.loads(done["load"].stdout)["prediction"] == "dog"
    assert done["save"].returncode == 0, done["save"].stderr
    for _ in range(100):  # the >(cat) may still be writing when the script ends
        if out.exists() and out.stat().st_size > 0 and zipfile.is_zipfile(out):
            break
        time.sleep(0.1)
    from llmclf import Classifier

    assert sorted(Classifier.load(out).classes_) == ["a", "b"]
    assert not list(relays.glob("llmclf-relay.*"))  # the shared copies are gone
    # a run refused before docker starts (no folder on the way to --save to share) leaves no copies either
    refused = subprocess.run(
        ["bash", "-c", f"{REPO}/train.sh --data <(printf 'text,label\\na,b\\n') --save /nonexistent-llmclf/m.model"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2 and "no folder on the way to /nonexistent-llmclf/m.model" in refused.stderr
    assert not list(relays.glob("llmclf-relay.*")), refused.stderr
