"""The running comparison: the report's columns, the best value marked, the ratio to the best."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from orintui.core.format import fmt, ratio, run_label
from orintui.figures.metrics import RunMetrics, best_run
from orintui.session import status as st
from orintui.tui.data import data_line
from orintui.tui.glyphs import fit

COLUMNS = ("Backend", "Decode tok/s", "vs best", "Prefill tok/s", "TTFT ms", "p50 ms", "p95 ms", "J/token", "BW %",
           "Status")
# under NARROW_BELOW columns (80x24 over SSH): the least useful go first (p50 is 1000/decode, prefill is in
# the report), headers are abbreviated, and the backend column stays in place while the rest scrolls
NARROW_BELOW = 110
NARROW = {"Backend": "Backend", "Decode tok/s": "Decode", "vs best": "vs best", "TTFT ms": "TTFT ms", "p95 ms": "p95",
          "J/token": "J/tok", "BW %": "BW%", "Status": "Status"}


def _fit(label: Text, width: int) -> Text:
    return label if len(label.plain) <= width else Text(fit(label.plain, width), style=label.style)


class ComparisonTable(DataTable):
    narrow: bool | None = None
    shown: list[RunMetrics] | None = None  # what show() last drew: redrawn when the columns change

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.fixed_columns = 1
        self._set_columns()

    def _set_columns(self) -> None:
        narrow = 0 < self.size.width < NARROW_BELOW
        if narrow == self.narrow:
            return
        self.narrow = narrow
        self.clear(columns=True)
        for col in COLUMNS:
            if not narrow or col in NARROW:
                self.add_column(NARROW[col] if narrow else col, key=col)

    def on_resize(self) -> None:
        was = self.narrow
        self._set_columns()
        if self.narrow != was and self.shown is not None:
            self.show(self.shown, force=True)  # the rows went with the old columns; a paused replay sends none

    def show(self, metrics: list[RunMetrics], force: bool = False) -> None:
        # LiveState.metrics hands back the same figures until they are refreshed (once a second at most)
        if not force and self.shown is not None and len(metrics) == len(self.shown) \
                and all(new is old for new, old in zip(metrics, self.shown)):
            return
        self.shown = metrics
        measured = [m for m in metrics if m.ranks]  # only complete runs are ranked or marked best
        best_decode = getattr(best_run(measured), "decode", None)
        best = {
            "prefill": max((m.prefill_tok_s for m in measured if m.prefill_tok_s), default=None),
            "ttft": min((m.ttft_ms for m in measured if m.ttft_ms), default=None),
            "p50": min((m.itl_ms["p50"] for m in measured if m.itl_ms["p50"]), default=None),
            "j": min((m.energy_j_per_token for m in measured if m.energy_j_per_token), default=None),
        }

        def cell(value: float | None, best_value: float | None, digits: int = 2) -> Text:
            text = Text(fmt(value, digits))
            if value is not None and best_value is not None and value == best_value and len(measured) > 1:
                text.stylize("bold")
                text.append(" *")
            return text

        rows = []
        for m in metrics:
            label = run_label(m, metrics)
            name = data_line(label, style=st.STYLE.get(m.status, "") if m.status != st.OK else ("dim" if m.warmup else ""))
            vs_best = ratio(m.decode, best_decode) if m.ranks else "n/a"
            verdict = Text(m.status, style=st.STYLE.get(m.status, ""))
            for flag in m.flags:
                verdict.append(f" {flag.code}", style="yellow")
            rows.append((f"run-{m.run}", [name, cell(m.decode, best_decode), Text(vs_best), cell(m.prefill_tok_s, best["prefill"]),
                                           cell(m.ttft_ms, best["ttft"], 1), cell(m.itl_ms["p50"], best["p50"]),
                                           Text(fmt(m.itl_ms["p95"])), cell(m.energy_j_per_token, best["j"], 4),
                                           Text(fmt(m.bandwidth_pct, 1)), verdict]))
        shown = [i for i, col in enumerate(COLUMNS) if not self.narrow or col in NARROW]
        rows = [(key, [cells[i] for i in shown]) for key, cells in rows]
        if self.narrow:  # the frozen column: 16 cells of the label
            rows = [(key, [_fit(cells[0], 16), *cells[1:]]) for key, cells in rows]
        if self.row_count != len(rows):
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            return
        for key, cells in rows:
            for i, value in zip(shown, cells):
                if self.get_cell(key, COLUMNS[i]) != value:
                    self.update_cell(key, COLUMNS[i], value, update_width=True)
