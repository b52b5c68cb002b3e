"""Tables that stay readable at any terminal width.

Cells, headers and titles are shown literally (see :func:`._common.safe`). Columns not
added with ``overflow="fold"`` (ids, names, numbers) stay whole: a run id cut to
``01a20f96-e9cc-…`` cannot be given to ``llmclf feedback``. When the terminal is too
narrow to keep them whole and still give each folding column a readable width, the
table is shown as one block of ``header  value`` lines per row instead: at 80
columns ``llmclf logs list`` had squeezed its text and prediction columns to nothing
and cut every run id. Narrower still (a split pane), each header goes on a line of its
own above its value: beside a 19-character header, 20 columns left the values none.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.styled import Styled
from rich.table import Table as _RichTable
from rich.text import Text

from ._common import safe

__all__ = ["Table"]

MIN_FOLD_WIDTH = 10  # the least a folding column (a text, a list of probabilities) gets before rows are stacked


class Table(_RichTable):
    """A rich Table with literal strings, whole ids, and a stacked layout where the terminal is too narrow."""

    def __init__(self, *args: Any, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, title=safe(title) if isinstance(title, str) else title, **kwargs)

    def add_column(self, *args: Any, **kwargs: Any) -> None:
        if args and isinstance(args[0], str):  # a header can come from a bundle (info's example sources)
            args = (safe(args[0]), *args[1:])
        if kwargs.get("overflow") != "fold":
            kwargs.setdefault("no_wrap", True)
        super().add_column(*args, **kwargs)

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        super().add_row(*(safe(c) if isinstance(c, str) else c for c in cells), **kwargs)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._fits(console, options):
            yield from super().__rich_console__(console, options)
        else:
            yield self._stacked(beside=self._fits_beside(console, options))

    def _fits(self, console: Console, options: ConsoleOptions) -> bool:
        whole = folding = 0
        for column in self.columns:
            if column.no_wrap:
                cells = [column.header, *column.cells]
                whole += max(Measurement.get(console, options, c).maximum for c in cells) + 2  # padding
            else:
                folding += 1
        borders = len(self.columns) + 1
        return whole + folding * (MIN_FOLD_WIDTH + 2) + borders <= options.max_width

    def _fits_beside(self, console: Console, options: ConsoleOptions) -> bool:
        """Whether headers fit beside values that keep ids whole and give texts a readable width."""
        headers = max(Measurement.get(console, options, c.header).maximum for c in self.columns)
        whole = [Measurement.get(console, options, c).maximum for col in self.columns if col.no_wrap for c in col.cells]
        return headers + 2 + max([MIN_FOLD_WIDTH, *whole]) <= options.max_width

    def _stacked(self, beside: bool) -> Group:
        """Each row as ``header  value`` lines (or a header line above each value where that is too wide), a blank
        line between rows; values fold, headers stay whole."""
        blocks: list[Any] = [self.title] if self.title is not None else []
        cells = [list(column.cells) for column in self.columns]
        for row in range(self.row_count):
            grid = _RichTable.grid(padding=(0, 2))
            if beside:
                grid.add_column(style="bold", no_wrap=True)
            grid.add_column(overflow="fold")
            for column, values in zip(self.columns, cells, strict=True):
                cell = values[row]
                value = Styled(cell, column.style) if column.style else cell
                if beside:
                    grid.add_row(column.header, value)
                else:
                    grid.add_row(Styled(column.header, "bold"))
                    grid.add_row(Padding(value, (0, 0, 0, 2)))
            blocks.extend([grid, Text("")] if row < self.row_count - 1 else [grid])
        return Group(*blocks)
