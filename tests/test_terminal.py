"""The CLI where users run it: a real terminal (a pty, via pexpect) and real pipes.

CliRunner never has a terminal, so it cannot see what rich does on one; these
tests start ``llmclf`` as a process.
"""

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading

import pytest

from llmclf.errors import InputError

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

LLMCLF = f"{shlex.quote(sys.executable)} -m llmclf"
RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def in_terminal(command: str, tmp_path, timeout: int = 120, columns: int = 80) -> tuple[str, int, str]:
    """Run ``command`` under bash in a pty (80 columns); returns the screen a VT100 shows at the end, and the status.

    The raw byte stream holds progress frames that the terminal later erases; pyte
    plays it like a terminal would, so the test sees what the user sees.
    """
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home"), "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    rows = 200
    child = pexpect.spawn(
        "bash", ["-c", command], env=env, dimensions=(rows, columns), encoding="utf-8", timeout=timeout
    )
    raw = child.read()
    child.close()
    screen = pyte.Screen(columns, rows)
    pyte.Stream(screen).feed(raw.replace("\n", "\r\n") if "\r\n" not in raw else raw)
    shown = "\n".join(line.rstrip() for line in screen.display).strip("\n")
    return shown, child.exitstatus, raw


def piped(command: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home")}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, env=env, timeout=120
    )


def test_classify_to_a_file_from_a_terminal_writes_the_json_lines(pets_bundle, tmp_path):
    out = tmp_path / "x.jsonl"
    shown, status, _raw = in_terminal(f"{LLMCLF} classify --load {pets_bundle} woof meow > {out}", tmp_path)
    assert status == 0, shown
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["prediction"] for r in records] == ["dog", "cat"]
    assert "prediction" not in shown  # nothing of the data reached the screen


def test_json_on_a_terminal_is_never_wrapped(pets_bundle, tmp_path):
    text = "my dog" + " barks at the postman every single morning" * 4
    shown, status, raw = in_terminal(f"{LLMCLF} classify --load {pets_bundle} --json {shlex.quote(text)}", tmp_path)
    assert status == 0, shown
    (line,) = re.findall(r'\{"text".*', raw)  # `.` stops at a newline: a wrapped record would not parse
    assert json.loads(line.rstrip("\r"))["text"] == text


def test_table_keeps_run_ids_whole_and_starts_clean(pets_bundle, tmp_path):
    shown, status, _raw = in_terminal(
        f"{LLMCLF} classify --load {pets_bundle} woof meow 'a very long text about a small dog that barks a lot at night'",
        tmp_path,
    )
    assert status == 0, shown
    assert len(RUN_ID.findall(shown)) == 3, shown  # whole ids, one per row, none split across lines
    assert shown.splitlines()[0].startswith("┏"), shown  # no spinner line left, none glued to the border
    assert "classifying" not in shown


def test_classify_input_file_shows_a_progress_total_on_the_terminal(pets_bundle, tmp_path):
    data = tmp_path / "many.txt"
    data.write_text("".join(f"woof number {i}\n" for i in range(1500)))
    out = tmp_path / "out.jsonl"
    shown, status, raw = in_terminal(
        f"{LLMCLF} classify --load {pets_bundle} --no-log --input {data} > {out}", tmp_path
    )
    assert status == 0, shown
    assert "/1500" in raw  # a real total, counted before classifying
    assert len(out.read_text().splitlines()) == 1500


def test_piped_classify_and_help_into_head_exit_0(pets_bundle, tmp_path):
    data = tmp_path / "many.txt"
    data.write_text("".join(f"woof {i}\n" for i in range(3000)))
    for command in (
        f"{LLMCLF} classify --load {pets_bundle} --no-log --input {data} | head -1",
        f"{LLMCLF} --help | head -1",
        f"{LLMCLF} classify --help | head -1",
    ):
        result = piped(command, tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr and "error" not in result.stderr.lower()


def test_piped_messages_are_not_wrapped(tmp_path):
    long_name = "x" * 30
    model = tmp_path / ("a-rather-long-folder-name-" * 3) / "pets.model"
    result = piped(
        f"{LLMCLF} train --class '{long_name}_cat: Cats meow' --class 'dog: Dogs bark' --save {model} | cat", tmp_path
    )
    assert result.returncode == 0, result.stderr
    saved = [line for line in result.stdout.splitlines() if line.startswith("saved ")]
    assert saved == [f"saved {model} (2 classes, 8 examples)"]
    assert any(len(line) > 80 for line in result.stderr.splitlines())  # notices stay one line too


def test_bundle_text_cannot_restyle_or_retitle_the_terminal(tmp_path):
    from llmclf import Classifier

    evil = "\x1b]0;pwned\x07\x1b[31m"
    with pytest.raises(InputError, match="holds the control character U\\+001B"):
        Classifier().add_class(f"dog{evil}")  # a class name is one line of plain text
    classes = {"cat": "Cats meow and purr.", "[blink]dog[/blink]": f"Dogs bark.{evil}"}
    model = Classifier().prompt_train(classes).save(tmp_path / "evil.model")
    shown, status, raw = in_terminal(f"{LLMCLF} classify --load {model} --no-log woof; {LLMCLF} info {model}", tmp_path)
    raw = subprocess.run(
        ["bash", "-c", f"{LLMCLF} info {model}"],
        capture_output=True,
        text=True,
        env={**os.environ, "LLMCLF_HOME": str(tmp_path)},
    )
    assert status == 0, shown
    assert "\x1b]0;pwned" not in raw.stdout and "\\x1b]0;pwned" in raw.stdout
    assert "[blink]dog[/blink]" in shown  # markup shown literally, not obeyed


def test_piped_tables_keep_ids_and_names_whole(tmp_path):
    db = ["--db", str(tmp_path / "db.sqlite")]
    long = "when the customer asks about something quite long and specific " * 4
    assert (
        piped(
            f"{LLMCLF} tags add s --id tag-0001 --name card_arrival_question --instructions '{long}' {' '.join(db)}",
            tmp_path,
        ).returncode
        == 0
    )
    shown = piped(f"{LLMCLF} tags list s {' '.join(db)} | cat", tmp_path).stdout
    assert "tag-0001" in shown and "card_arrival_question" in shown and "…" not in shown
    row = next(line for line in shown.splitlines() if "tag-0001" in line)
    assert long.strip() in row  # one line: a pipe never wraps


def _string_fields(value, path=()):
    """Paths to every string: a value's path, or a key's path ending in ("key", name)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, ("key", key))
            yield from _string_fields(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _string_fields(item, (*path, i))
    elif isinstance(value, str):
        yield path


def test_no_string_a_bundle_holds_reaches_the_terminal_as_an_escape(tmp_path):
    """Every string of the manifest in turn, ending in an escape sequence (member hashes kept valid):
    info and classify show it escaped, or refuse the bundle in one line; the raw sequence never reaches
    the output (it did for the version, creation date, head and class weight that info printed)."""
    from typer.testing import CliRunner

    from llmclf import Classifier
    from llmclf.cli import app

    from .test_bundle_hardening import members_of, write

    evil = "\x1b]0;pwned\x07\x1b[31m"
    base = Classifier().fit(["meow", "purr", "woof", "bark"], ["cat", "cat", "dog", "dog"]).save(tmp_path / "b.model")
    members = members_of(base)
    fields = list(_string_fields(json.loads(members["manifest.json"])))
    assert len(fields) >= 10
    runner = CliRunner()
    for path in fields:
        manifest = json.loads(members["manifest.json"])
        node = manifest
        for key in path[:-1]:
            node = node[key]
        if isinstance(path[-1], tuple):  # a key: renamed, its value kept
            node[path[-1][1] + evil] = node.pop(path[-1][1])
        else:
            node[path[-1]] += evil
        model = tmp_path / "evil.model"
        write(model, members, manifest)
        for args in (["info", str(model)], ["classify", "--load", str(model), "--no-log", "woof"]):
            result = runner.invoke(app, args, env={"LLMCLF_HOME": str(tmp_path / "home")})
            shown = result.stdout + result.stderr
            assert "\x1b" not in shown, (path, args[0], shown)
            assert result.exit_code in (0, 2) and "Traceback" not in shown, (path, args[0], shown)


CAT_TEXT = "le chat 🐱 ronronne, très content"


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
def test_output_in_a_narrow_encoding_escapes_what_it_cannot_hold(pets_bundle, tmp_path, encoding):
    """PYTHONIOENCODING, a POSIX locale or a Windows code page: an emoji was 'internal error: UnicodeEncodeError'."""
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home"), "PYTHONIOENCODING": encoding}
    llmclf = [sys.executable, "-m", "llmclf", "classify", "--no-log", "--load"]
    run = [*llmclf, str(pets_bundle)]
    as_json = subprocess.run([*run, "--json", CAT_TEXT, "woof"], capture_output=True, env=env, timeout=120)
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.decode(encoding).splitlines()]
    assert [r["text"] for r in records] == [CAT_TEXT, "woof"]  # still valid JSON, nothing lost
    as_table = subprocess.run([*run, CAT_TEXT], capture_output=True, env=env, timeout=120)
    assert as_table.returncode == 0, as_table.stderr
    assert "\\ud83d\\udc31" in as_table.stdout.decode(encoding)
    missing = subprocess.run([*llmclf, str(tmp_path / "chat-🐱.model"), "x"], capture_output=True, env=env)
    assert missing.returncode == 2
    (line,) = missing.stderr.decode(encoding).splitlines()
    assert "not found" in line and "chat-\\ud83d\\udc31.model" in line and "internal error" not in line


def test_an_ascii_terminal_shows_the_table_and_an_ascii_spinner(pets_bundle, tmp_path):
    shown, status, raw = in_terminal(
        f"PYTHONIOENCODING=ascii {LLMCLF} classify --load {pets_bundle} --no-log {shlex.quote(CAT_TEXT)} woof", tmp_path
    )
    assert status == 0, shown
    assert "\\ud83d\\udc31" in shown and "woof" in shown
    assert "\\u28" not in raw  # rich's braille spinner frames, escaped, were the first thing on the screen


@pytest.mark.parametrize(
    ("redirect", "stream"),
    [(">&-", "standard output"), ("--json >&-", "standard output"), ("- <&-", "standard input")],
)
def test_a_closed_standard_stream_is_one_line(pets_bundle, tmp_path, redirect, stream):
    """`>&-` left sys.stdout None: 'internal error: AttributeError: NoneType object has no attribute write'."""
    result = piped(f"{LLMCLF} classify --load {pets_bundle} --no-log woof {redirect}", tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {stream} is closed"]


def test_a_closed_stderr_still_sets_the_status(pets_bundle, tmp_path):
    result = piped(f"{LLMCLF} classify --load {tmp_path / 'missing.model'} woof 2>&-", tmp_path)
    assert result.returncode == 2
    ok = piped(f"{LLMCLF} classify --load {pets_bundle} --no-log --json woof 2>&-", tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["prediction"] == "dog"


def test_logs_list_at_80_columns_shows_whole_run_ids_and_the_texts(pets_bundle, tmp_path):
    """At 80 columns the table cut every run id ("01a20f96-e9cc-7456-83f3-b5ba6ec…") and gave text 0 columns."""
    texts = ["woof woof, a long text about a dog barking", "meow"]
    logged = piped(f"{LLMCLF} classify --load {pets_bundle} --json " + " ".join(map(shlex.quote, texts)), tmp_path)
    ids = [json.loads(line)["run_id"] for line in logged.stdout.splitlines()]
    shown, status, _raw = in_terminal(f"{LLMCLF} logs list", tmp_path)
    assert status == 0, shown
    assert sorted(RUN_ID.findall(shown)) == sorted(ids), shown
    assert all(text in shown for text in texts), shown
    assert "…" not in shown


def test_classify_in_a_narrow_terminal_keeps_ids_whole_and_texts_readable(pets_bundle, tmp_path):
    """At 60 columns the run id column squeezed the text to 2 characters and the probabilities to 1."""
    shown, status, _raw = in_terminal(
        f"{LLMCLF} classify --load {pets_bundle} 'my dog barks' meow", tmp_path, columns=60
    )
    assert status == 0, shown
    assert len(RUN_ID.findall(shown)) == 2, shown
    assert "my dog barks" in shown and "dog 0." in shown and "cat 0." in shown, shown


@pytest.mark.parametrize("columns", [40, 20])
def test_classify_in_a_split_pane_shows_every_value(pets_bundle, tmp_path, columns):
    """At 20 columns the stacked rows kept their 19-character headers and gave the values no width: the screen
    showed "text", "prediction" and "run id" with nothing beside them."""
    shown, status, _raw = in_terminal(
        f"{LLMCLF} classify --load {pets_bundle} 'my dog barks' meow", tmp_path, columns=columns
    )
    assert status == 0, shown
    joined = "".join(shown.split())  # a value folded at 20 columns goes on below
    assert "mydogbarks" in joined and joined.count("dog0.") == 2 and joined.count("cat0.") == 2, shown
    assert len(RUN_ID.findall(joined)) == 2, shown
    if columns == 40:  # wide enough for an id: it stays whole on its line
        assert len(RUN_ID.findall(shown)) == 2, shown


@pytest.mark.parametrize("columns", ["0", "1"])
def test_a_columns_variable_of_0_or_1_still_shows_every_value(pets_bundle, tmp_path, columns):
    """With COLUMNS=0 (a script that exported the width of a terminal that reported none) `classify` printed no
    table at all, and with COLUMNS=1 its headers without a value: the tables are drawn at 20 columns at least."""
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home"), "TERM": "xterm-256color", "COLUMNS": columns}
    command = f"{LLMCLF} classify --load {pets_bundle} 'my dog barks' meow 2>/dev/null"
    child = pexpect.spawn("bash", ["-c", command], env=env, dimensions=(200, 80), encoding="utf-8", timeout=120)
    raw = child.read()
    child.close()
    joined = "".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw).split())
    assert child.exitstatus == 0, raw
    assert "barks" in joined and joined.count("dog0.") == 2 and joined.count("cat0.") == 2, raw  # every value
    assert len(RUN_ID.findall(joined)) == 2, raw
    helped = subprocess.run([*LLMCLF.split(), "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert "Usage:" in helped.stdout, helped.stdout  # typer's own console printed nothing at COLUMNS=0
    assert columns == "1" or "Classify texts" in " ".join(helped.stdout.split()), helped.stdout  # 0: unset, 80


@pytest.mark.parametrize("command", ["classify", "tag"])
def test_a_slow_pipe_gets_each_answer_before_it_closes(pets_bundle, tmp_path, command):
    """`tail -f app.log | llmclf classify` printed nothing until 1,024 lines had come or the pipe closed, and `tag`
    nothing until it closed: the first text's record must come while the pipe is still open, with the next text
    not yet written."""
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home")}
    args = [sys.executable, "-m", "llmclf", "classify", "--load", str(pets_bundle)]
    if command == "tag":
        for tag_id, name in (("1", "dog"), ("2", "cat")):
            add = [sys.executable, "-m", "llmclf", "tags", "add", "pets", "--id", tag_id, "--name", name]
            subprocess.run(add, env=env, check=True, capture_output=True)
        args = [sys.executable, "-m", "llmclf", "tag", "--set", "pets", "--offline"]
    with subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as child:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in child.stdout], daemon=True).start()
        try:
            answers = []
            for text in ("woof woof", "meow"):
                child.stdin.write(text + "\n")
                child.stdin.flush()
                try:
                    answers.append(json.loads(lines.get(timeout=90)))
                except queue.Empty:
                    pytest.fail(f"no record for {text!r} while the pipe stays open")
            child.stdin.close()
            assert child.wait(timeout=60) == 0 and lines.empty()
        finally:
            child.kill()
    key = "prediction" if command == "classify" else "name"
    assert [(a["text"], a[key]) for a in answers] == [("woof woof", "dog"), ("meow", "cat")]


def test_a_home_folder_after_an_equals_sign_is_the_home_folder(tmp_path):
    """The shell makes `~` the home folder in `--save ~/m.model`, but not in `--save=~/m.model`: a folder named "~"
    appeared in the current one."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HOME": str(home), "LLMCLF_HOME": str(tmp_path / "data")}
    train = [sys.executable, "-m", "llmclf", "train", "--class", "cat: Cats meow.", "--class", "dog: Dogs bark."]
    done = subprocess.run([*train, "--save=~/models/m.model"], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (home / "models" / "m.model").is_file() and list(work.iterdir()) == []
    (home / "texts.txt").write_text("woof woof\n")
    args = [sys.executable, "-m", "llmclf", "classify", "--load=~/models/m.model", "--input=~/texts.txt", "--no-log"]
    said = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
    assert said.returncode == 0 and json.loads(said.stdout)["prediction"] == "dog", said.stderr


@pytest.mark.parametrize("command", ["classify --load {bundle} -", "tag --set pets --offline -"])
def test_ctrl_c_while_waiting_for_typed_lines_exits_130_without_an_abort(pets_bundle, tmp_path, command):
    """Typed lines are answered one by one; Ctrl-C while the reader thread waits for the next one ended in "Fatal
    Python error: could not acquire lock for <_io.BufferedReader name='<stdin>'> at interpreter shutdown", SIGABRT."""
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home"), "TERM": "xterm-256color", "PYTHONFAULTHANDLER": "1"}
    for tag_id, name in (("1", "dog"), ("2", "cat")):
        add = [sys.executable, "-m", "llmclf", "tags", "add", "pets", "--id", tag_id, "--name", name]
        subprocess.run(add, env=env, check=True, capture_output=True)
    # Ctrl-C as a terminal gives it: a test run started in the background by a non-interactive shell ignores SIGINT,
    # and its children inherit that (Python then installs no KeyboardInterrupt handler, and Ctrl-C did nothing)
    child = pexpect.spawn(
        "bash", ["-c", f"{LLMCLF} {command.format(bundle=pets_bundle)}"], env=env, dimensions=(24, 100), timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    seen = []  # the whole screen, for the message of a failure
    child.logfile_read = type("Log", (), {"write": lambda _, b: seen.append(b), "flush": lambda _: None})()
    child.sendline("woof woof")
    try:
        child.expect(r"\bdog\b.*\r\n")  # answered while stdin stays open: a JSON line or a table row
    except pexpect.TIMEOUT:
        child.kill(signal.SIGABRT)  # faulthandler shows where each thread waits
        child.expect(pexpect.EOF, timeout=10)
        pytest.fail(f"no answer: {b''.join(seen)[-6000:]!r}")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    shown = b"".join(seen)
    assert b"Fatal Python error" not in shown and b"Traceback" not in shown, shown[-3000:]
    assert child.signalstatus is None and child.exitstatus == 130, shown[-3000:]


def test_offline_tagging_moves_its_progress_bar(tmp_path):
    """The bar of `tag` moved only on the LLM's answers: tagging offline, it stood at 0/N until the end."""
    env = {**os.environ, "LLMCLF_HOME": str(tmp_path / "home")}
    for tag_id, name in (("1", "dog"), ("2", "cat")):
        add = [sys.executable, "-m", "llmclf", "tags", "add", "pets", "--id", tag_id, "--name", name]
        subprocess.run(add, env=env, check=True, capture_output=True)
    data, out = tmp_path / "texts.txt", tmp_path / "out.jsonl"
    data.write_text("".join(f"my dog number {i} barks\n" for i in range(600)))
    shown, status, raw = in_terminal(f"{LLMCLF} tag --set pets --offline --input {data} > {out}", tmp_path)
    assert status == 0, shown
    assert "600/600" in raw and len(out.read_text().splitlines()) == 600
