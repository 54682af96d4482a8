"""How results look on a terminal: tables, times and durations, JSON, and a live status line."""

import json
import shutil
from datetime import UTC, datetime
from typing import TextIO


def print_json(stream: TextIO, data) -> None:
    stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_table(stream: TextIO, headers: list[str], rows: list[list[str]], *, empty: str) -> None:
    if not rows:
        stream.write(empty + "\n")
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in [headers, *rows]:
        stream.write(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
            + "\n"
        )


def print_fields(stream: TextIO, pairs: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in pairs)
    for label, value in pairs:
        if value:
            stream.write(f"{label.ljust(width)}  {value}\n")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(value: datetime | None, now: datetime) -> str:
    """``2026-11-28 05:10 UTC (in 12 min)``: absolute for the record, relative for the reader."""
    if value is None:
        return ""
    value = value.astimezone(UTC)
    delta = (value - now).total_seconds()
    relative = f"in {format_duration(delta)}" if delta >= 0 else f"{format_duration(-delta)} ago"
    return f"{value:%Y-%m-%d %H:%M} UTC ({relative})"


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def format_hours(value) -> str:
    return f"{float(value or 0):,.2f}"


class LiveLine:
    """One status line that rewrites itself on a terminal, and prints only changes everywhere else.

    Logs and pipes then get one line per change instead of a line per poll or carriage returns.
    """

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._shown = ""
        self._plain_last = ""

    def show(self, text: str, *, changed_part: str | None = None) -> None:
        """``changed_part`` (default: the text) decides, off a terminal, whether a new line is worth it."""
        if self.interactive:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            line = text[:width]
            self.stream.write("\r" + line + " " * max(len(self._shown) - len(line), 0))
            self.stream.flush()
            self._shown = line
            return
        key = text if changed_part is None else changed_part
        if key != self._plain_last:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._plain_last = key

    def done(self, text: str = "") -> None:
        """Leave the line as the final word and move on to a fresh one."""
        if self.interactive:
            # The final word is written whole, even where the terminal wraps it.
            if text:
                self.stream.write("\r" + text + " " * max(len(self._shown) - len(text), 0))
            if text or self._shown:
                self.stream.write("\n")
                self.stream.flush()
            self._shown = ""
        elif text:
            self.stream.write(text + "\n")
            self.stream.flush()
