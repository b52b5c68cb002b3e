"""Helpers shared by the CLI commands: consoles, safe text, error handling, NAME:VALUE flags.

Two rules hold everywhere:

* stdout carries data (JSON Lines, tables, reports); stderr carries the UI
  (progress, notices, errors). Data is written straight to ``sys.stdout``,
  never through a console that a progress display may have redirected.
* Text that came from a user, a file or a bundle is shown literally: markup is
  off on both consoles, and control characters are made visible, so a class
  named ``[blink]dog`` or one holding an escape sequence cannot restyle or
  retitle the terminal.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from ..blank import is_blank
from ..datafiles import LABEL_KEYS, TEXT_KEYS
from ..errors import InputError, LlmclfError, redact
from ..jsonlines import json_line
from ..paths import url_in_path

F = TypeVar("F", bound=Callable[..., Any])

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value: object) -> str:
    """``value`` as text safe for a terminal: control characters shown as escapes, never obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))


def safe(value: object, style: str = "") -> Text:
    """A rich Text of ``value``, shown literally (no markup, no control characters)."""
    return Text(printable(value), style=style)


class _PlainHelp:
    """Help that names values plainly: ``FILE``, ``N``, ``TEXT``, and nothing after a flag.

    Typer's default shows Python types (``<bool>``, ``<list[str]>``, ``<path>``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument":
                param.display_type_rich = lambda ctx: None  # its name says enough: TEXTS..., SET
                continue
            if param.metavar is not None:
                continue
            if getattr(param, "is_flag", False):
                param.metavar = ""
            elif param.param_type_name == "option":
                param.metavar = _metavar(param.type_descriptor.annotation)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class Command(_PlainHelp, TyperCommand):
    """A command with plain help (see :class:`_PlainHelp`)."""


class Group(_PlainHelp, TyperGroup):
    """A command group with plain help."""


SHOTS_HELP = "Similar feedback examples shown to the LLM (few-shot)."


def column_option(what: str) -> Any:
    """``--text-column`` or ``--label-column``: the column of a table that holds a row's text or its label."""
    defaults = TEXT_KEYS if what == "text" else LABEL_KEYS
    shown = f"{', '.join(defaults[:-1])} or {defaults[-1]}"
    return typer.Option(
        None, f"--{what}-column", metavar="NAME", help=f"The column holding the {what} (default: {shown})."
    )


def need(value: Any, flag: str, positional: Any = None) -> Any:
    """A required option that an older spelling gave as a positional argument."""
    value = pick(value, positional)
    if value is None:
        raise InputError(f"missing option {flag}")
    return value


def local_file(path: Path | None, flag: str) -> Path | None:
    """``path``, unless it is a URL: the CLI writes local files (see :func:`~llmclf.paths.url_in_path`)."""
    if path is not None and (url := url_in_path(path)):
        raise InputError(
            f"{flag} {url} is a URL: the CLI writes local files (from Python, Classifier.save and load take fsspec URLs)"
        )
    return path


def pick(new: Any, old: Any) -> Any:
    """The value of an option given under its new name, or else under its hidden old spelling."""
    return old if old is not None and old != [] else new


def _metavar(annotation: Any) -> str:
    import typing
    from pathlib import Path

    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    kind = typing.get_args(kinds[0])[0] if typing.get_origin(kinds[0]) is list else kinds[0]
    if isinstance(kind, type) and issubclass(kind, Path):
        return "FILE"
    return {int: "N", float: "NUMBER", bool: ""}.get(kind, "TEXT")


class _Console(Console):
    """A console that shows plain strings literally, and never wraps when it is not a terminal.

    Piped, it is as wide as its content needs (up to 4,096 columns): a table keeps every
    id and label whole instead of squeezing them into 80 columns.
    """

    @property
    def size(self):  # type: ignore[override]
        real = Console.size.fget(self)
        if not self.is_terminal and self._width is None and "COLUMNS" not in os.environ:
            return real._replace(width=4096)
        return real

    @size.setter
    def size(self, value) -> None:  # type: ignore[no-untyped-def]
        Console.size.fset(self, value)

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # A plain string is text, never instructions: a bundle's version or date string
        # holding an escape sequence is shown, not obeyed (Text and tables are made safe where built).
        objects = tuple(printable(o) if isinstance(o, str) else o for o in objects)
        if not self.is_terminal:
            kwargs.setdefault("soft_wrap", True)
            kwargs.setdefault("crop", False)
        super().print(*objects, **kwargs)


MIN_COLUMNS = 20  # the narrowest the tables are drawn (see tables.py); a narrower terminal wraps their lines


def usable_terminal_size() -> None:
    """COLUMNS=0 (a script that exported the width of a terminal that reported none) made rich draw every table and
    help page 0 columns wide, which printed nothing, and COLUMNS=1 headers without their values. A width under 20 is
    taken as 20; 0, or what is not a number, as unset (the terminal's own size, else 80), and LINES=0 likewise.
    Done before the consoles below are made: rich reads COLUMNS once, when a console is made."""
    for name, least in (("COLUMNS", MIN_COLUMNS), ("LINES", 1)):
        value = os.environ.get(name, "").strip()
        if name in os.environ and (not value.isdigit() or int(value) == 0):
            del os.environ[name]
        elif value and int(value) < least:
            os.environ[name] = str(least)


usable_terminal_size()
out = _Console(markup=False, highlight=False, emoji=False)
err = _Console(stderr=True, markup=False, highlight=False, emoji=False)


def message(label: str, style: str, text: str) -> Text:
    return Text.assemble((label, style), " ", printable(" ".join(redact(text).split())))


def fail(text: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    err.print(message("error:", "bold red", text), soft_wrap=True)
    return typer.Exit(code)


def os_error_line(exc: OSError) -> str:
    """What the system refused, and where: a full disk, a permission, a folder that is a file."""
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def friendly_errors(fn: F) -> F:
    """Turn llmclf's own errors, and the system's (OSError), into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LlmclfError as exc:
            raise fail(str(exc)) from None
        except BrokenPipeError:
            raise  # a reader that has seen enough: main() answers it
        except OSError as exc:
            raise fail(os_error_line(exc)) from None

    return wrapper  # type: ignore[return-value]


def notice(text: str) -> None:
    err.print(message("notice:", "yellow", text), soft_wrap=True)


def warn(text: str) -> None:
    err.print(message("warning:", "bold yellow", text), soft_wrap=True)


def say(text: str) -> None:
    """A one-line report on stdout (saved, stored, removed ...), literal and never wrapped."""
    out.print(safe(text), soft_wrap=True)


def write_jsonl(records: Iterable[dict[str, Any]]) -> None:
    """JSON Lines straight to stdout: strict JSON (no NaN), one record a line, flushed."""
    sys.stdout.write("".join(json_line(r) for r in records))
    sys.stdout.flush()


class Steps:
    """Progress bars on stderr, only when stderr is a terminal; piped, they print nothing.

    They never redirect stdout (rich's default), so data written to ``sys.stdout``
    while they run lands where the user sent it. A total may be unknown at first:
    ``advance(n, total)`` sets it from the first caller that knows it.
    """

    def __init__(self, label: str, total: int | None = None) -> None:
        self.label, self.total = label, total
        self._progress = None
        self.advance: Callable[..., None] = self._noop  # a real bar from __enter__, on a terminal

    @staticmethod
    def _noop(n: int, total: int | None = None) -> None:
        return None

    def __enter__(self) -> Steps:
        if err.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            # rich draws its spinner in braille whatever the terminal's encoding; an ASCII one shows as \u escapes
            spinner = "dots" if err.encoding.startswith("utf") else "line"
            self._progress = Progress(
                SpinnerColumn(spinner),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
            self.advance = self.add(self.label, self.total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, label: str, total: int | None = None) -> Callable[..., None]:
        """Another bar under the first; returns its ``advance(n, total=None)``."""
        if self._progress is None:
            return self._noop
        progress = self._progress
        task = progress.add_task(printable(label), total=total)
        known = [total]

        def advance(n: int, total: int | None = None) -> None:
            if known[0] is None and total is not None:
                known[0] = total
                progress.update(task, total=total)
            progress.advance(task, n)

        return advance

    def print(self, renderable: Any) -> None:
        """Print to stdout with the bar taken down first, so no spinner line is glued to the output."""
        self._paused(lambda: out.print(renderable))

    def write_jsonl(self, records: Iterable[dict[str, Any]]) -> None:
        """JSON Lines to stdout; when stdout is the bar's terminal too, the bar steps aside first."""
        if out.is_terminal:
            records = list(records)
            self._paused(lambda: write_jsonl(records))
        else:
            write_jsonl(records)

    def _paused(self, show: Callable[[], None]) -> None:
        if self._progress is not None:
            self._progress.stop()
        show()
        if self._progress is not None:
            try:
                self._progress.start()
            except BaseException:  # Ctrl-C inside rich's start: half started, its stop failed (IndexError)
                self._progress = None
                raise


def show_data_warnings() -> None:
    """The library's :class:`~llmclf.errors.DataWarning` (rows it skipped) and :class:`~llmclf.errors.LLMWarning`
    (another way of asking the LLM) as one ``warning:`` line each."""
    import warnings

    from ..errors import DataWarning, LLMWarning

    shown = warnings.showwarning
    if getattr(shown, "llmclf", False):
        return

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        if issubclass(category, DataWarning | LLMWarning):
            warn(str(message))
        else:
            shown(message, category, filename, lineno, file, line)

    show.llmclf = True  # type: ignore[attr-defined]
    warnings.showwarning = show
    warnings.simplefilter("always", DataWarning)


def setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False, markup=False)],
        force=True,
    )


def split_pair(value: str, flag: str, what: str, file_flag: str | None = None) -> tuple[str, str]:
    """Parse ``NAME:VALUE`` as given to ``--class`` or ``--train``; a file given there is pointed to ``file_flag``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{flag} {printable(value)!r} is not UTF-8 text") from None
    if ":" not in value:
        hint = f": {value} is a file, which {file_flag} FILE reads" if file_flag and Path(value).is_file() else ""
        raise InputError(f"{flag} {value!r} must look like NAME:{what.upper()} (no colon found){hint}")
    name, _, rest = value.partition(":")
    if is_blank(name):
        raise InputError(f"{flag} {value!r} has an empty class name")
    if is_blank(rest):
        raise InputError(f"{flag} {value!r} has an empty {what}")
    return name.strip(), rest.strip()


def stdin_is_piped() -> bool:
    try:
        return not sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
