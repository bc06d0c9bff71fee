"""HTML tables, built one way: :func:`html_table` (every lesson's tables) and :func:`shape_table_html`
(the coloured layer-by-layer table of a :class:`~unet_lesson.core.shapes.ShapeTable`).

Cells are escaped here, so a caller passes plain text; a cell that is already HTML is wrapped in
:class:`Raw`. Styles live in one place (:data:`STYLE`), so all tables of the course look alike.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["Raw", "html_table", "key_value_table", "shape_table_html", "PATH_COLOURS", "STYLE"]

STYLE = {
    "table": "border-collapse:collapse;font-size:12px",
    "th": "text-align:left;padding:2px 8px",
    "td": "text-align:left;padding:1px 8px",
    "mono": "font-family:monospace",
}
#: row colours of the shape table, by path of the U (contracting blue, bottom purple, expanding green, head orange)
PATH_COLOURS = {"contracting": "#e8f1fb", "bottom": "#f3e8fb", "expanding": "#eaf7ea", "head": "#fdf3e3"}
HIGHLIGHT = "#ffe9a8"


@dataclass(frozen=True)
class Raw:
    """A table cell that is already HTML (a link, a tick in colour): inserted as is."""

    html: str


def _cell(value) -> str:
    return value.html if isinstance(value, Raw) else html.escape(str(value))


def html_table(
    header: Sequence | None,
    rows: Iterable[Sequence],
    *,
    css: str = "",
    mono: Iterable[int] = (),
    row_styles: Sequence[str] | None = None,
    row_attrs: Sequence[str] | None = None,
    caption: str = "",
) -> str:
    """An HTML table: ``header`` (or None), ``rows`` of cells, ``mono`` the columns in monospace.

    ``css`` is the table's class (tests and browsers find tables by it); ``row_styles`` an extra
    style per row (e.g. a background colour); ``row_attrs`` extra attributes per row (already HTML).
    """
    mono = set(mono)
    head = ""
    if header is not None:
        head = "<thead><tr>" + "".join(f"<th style='{STYLE['th']}'>{_cell(h)}</th>" for h in header) + "</tr></thead>"
    body = []
    for i, row in enumerate(rows):
        style = f" style='{row_styles[i]}'" if row_styles and row_styles[i] else ""
        attrs = f" {row_attrs[i]}" if row_attrs and row_attrs[i] else ""
        tds = "".join(
            f"<td style='{STYLE['td']}{';' + STYLE['mono'] if j in mono else ''}'>{_cell(c)}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr{style}{attrs}>{tds}</tr>")
    cls = f" class='{html.escape(css)}'" if css else ""
    cap = f"<caption style='text-align:left'>{_cell(caption)}</caption>" if caption else ""
    return f"<table{cls} style='{STYLE['table']}'>{cap}{head}<tbody>{''.join(body)}</tbody></table>"


def key_value_table(items: Iterable[tuple[str, object]], *, css: str = "") -> str:
    """A two-column table of labels and values (values in monospace), e.g. a widget's readout."""
    return html_table(None, [(k, v) for k, v in items], css=css, mono=(1,))


def shape_table_html(table, style: str = "chw", highlight: int | None = None) -> str:
    """The shape table as a coloured HTML table (rows coloured by path; ``highlight`` a row index),
    its one-line summary on top. ``style="notes"`` writes shapes H×W×C as the notes do."""
    rows = [table.cells(r, style) for r in table.rows]
    colours = [HIGHLIGHT if highlight == r.index else PATH_COLOURS.get(r.path, "white") for r in table.rows]
    attrs = [f"data-module='{html.escape(r.module)}'" for r in table.rows]
    body = html_table(
        table.header(style), rows, mono=(4, 5, 6, 7), row_styles=[f"background:{c}" for c in colours], row_attrs=attrs
    )
    return f"<div class='ul-shape-table'><p><b>{html.escape(table.summary())}</b></p>{body}</div>"
