"""Raw backend output, as plain text: backend text never reaches markup."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from orintui.core.sanitize import clean_line
from orintui.reading.live_state import LiveState


class OutputPane(RichLog):
    def __init__(self, **kwargs):
        super().__init__(max_lines=2000, markup=False, highlight=False, wrap=False, **kwargs)
        self._shown = 0
        self._source: object = None

    def show(self, state: LiveState) -> None:
        if self._source is not state.output or state.output_total < self._shown:
            self.clear()
            self._shown, self._source = 0, state.output
        new = state.output_total - self._shown
        lines = list(state.output)[-new:] if new else []
        self._shown = state.output_total
        labels = {lane.index: clean_line(lane.label) for lane in state.lanes}
        for run, line in lines:
            text = Text(f"{labels.get(run, '-')[:14]:14} ", style="dim")
            text.append(clean_line(line))
            self.write(text)
