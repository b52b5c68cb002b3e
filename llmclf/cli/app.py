"""The typer application and the process entry point."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys

import typer
from typer.exceptions import TyperException

from .._version import __version__
from ..errors import InputError
from ..paths import env_switch
from . import classify as _classify
from . import embedders as _embedders
from . import evaluate as _evaluate
from . import feedback as _feedback
from . import info as _info
from . import logs as _logs
from . import serve as _serve
from . import tags as _tags
from . import train as _train
from ._common import Command, Group, err, message, os_error_line, show_data_warnings
from .streams import escape_unencodable, stand_in_for_closed

app = typer.Typer(
    cls=Group,
    name="llmclf",
    help="Turn a few sentences about your classes into a fast, honest text classifier.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.command("train", cls=Command)(_train.train)
app.command("classify", cls=Command)(_classify.classify)
app.command("info", cls=Command)(_info.info)
app.command("eval", cls=Command)(_evaluate.eval_)
app.add_typer(_embedders.app, name="embedders")
app.add_typer(_tags.app, name="tags")
app.command("tag", cls=Command)(_tags.tag)
app.command("serve", cls=Command)(_serve.serve)
app.command("feedback", cls=Command)(_feedback.feedback)
app.add_typer(_feedback.examples_app, name="examples")
app.command("retrain", cls=Command)(_feedback.retrain)
app.add_typer(_logs.app, name="logs")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmclf {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """llmclf: prompt -> classifier."""
    show_data_warnings()


PATH_OPTIONS = ("--save", "--load", "--input", "--output", "--data", "--classes", "--unlabeled", "--db", "--model")


def home_in_path_option(arg: str) -> str:
    """``--save=~/m.model`` with ``~`` made as the shell would: after ``=`` it does not, and a folder named "~"
    appeared in the current one (where ``rm -r ~`` is the next step). ``--save ~/m.model`` it does."""
    option, eq, value = arg.partition("=")
    if eq and option in PATH_OPTIONS and (value == "~" or value.startswith("~/")):
        return f"{option}={os.path.expanduser(value)}"
    return arg


def main() -> None:
    """Console-script entry point: every failure is one line on stderr."""
    # rich answers a closed pipe with SystemExit(1), in our consoles and in typer's help alike;
    # `llmclf --help | head -1` is a reader that has seen enough, not an error: exit 0, as cat does.
    from rich.console import Console

    Console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    stand_in_for_closed()
    escape_unencodable(sys.stdout, sys.stderr)
    # SIGTERM unwinds like Ctrl-C, so atomic writes remove their temporary file on the way out.
    signal.signal(signal.SIGTERM, _terminated)
    sys.argv[1:] = [home_in_path_option(arg) for arg in sys.argv[1:]]
    try:
        code = app(standalone_mode=False)
    except SystemExit as exc:
        # click answers a closed pipe (`llmclf ... | head -1`) with exit 1 and swaps in
        # PacifyFlushWrapper streams; a reader that has seen enough is not an error.
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            _quiet_stdout()
            sys.exit(0)
        raise
    except TyperException as exc:  # usage errors from typer's bundled click
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer has printed the help already
            sys.exit(0)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see: llmclf {_subcommand_path(ctx)} --help)" if ctx is not None and ctx.parent is not None else ""
        if ctx is not None and ctx.parent is not None and (text := _text_taken_for_an_option(exc)):
            run = f"llmclf {_subcommand_path(ctx)} ... -- {shlex.quote(text)}"
            hint = f" ({text!r} is a text? put texts that start with '-' after --: {run})"
        err.print(message("error:", "bold red", f"{exc.format_message()}{hint}"), soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # a consumer such as `head` closed the pipe: not an error of ours
        _quiet_stdout()
        sys.exit(0)
    except OSError as exc:  # the system refused (a command without friendly_errors): still one line
        err.print(message("error:", "bold red", os_error_line(exc)), soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if _debug():
            raise
        err.print(
            message(
                "internal error:", "bold red", f"{type(exc).__name__}: {exc} (set LLMCLF_DEBUG=1 for the traceback)"
            ),
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _text_taken_for_an_option(exc: Exception) -> str | None:
    """The argument behind "No such option: -5" when it reads as a text ("-5 stars, awful", "-1", "- not good"):
    click takes any word that starts with '-' for an option."""
    name = getattr(exc, "option_name", None)
    if type(exc).__name__ != "NoSuchOption" or not name:
        return None
    for arg in sys.argv[1:]:
        if arg == "--":
            break
        if arg.startswith(name) and (" " in arg.strip() or arg.lstrip("-").replace(".", "", 1).isdigit()):
            return arg
    return None


def _debug() -> bool:
    """LLMCLF_DEBUG: 0, false, no or off (or unset) hide the traceback; any other value shows it."""
    try:
        return env_switch("LLMCLF_DEBUG", False)
    except InputError:
        return True


def _subcommand_path(ctx) -> str:  # type: ignore[no-untyped-def]
    """``logs prune``, not ``prune``: the names below the root, whatever the program was called."""
    names = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush into a closed pipe stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _broken_pipe(_console: object) -> None:
    _quiet_stdout()
    raise SystemExit(0)
