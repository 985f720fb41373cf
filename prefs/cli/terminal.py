"""What the operator commands share: who ran them, and progress on the terminal."""

from __future__ import annotations

import getpass


def operator_name() -> str:
    """Who ran the command, for the admin events: the operating-system account."""
    return getpass.getuser()


def progress(description: str):
    """A rich progress bar on stderr, advanced by bytes read (no need to count lines first)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(description),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


class CountingReader:
    """Wraps a text file to tell the progress bar how far into the file the reader is (every 256 KiB or so:
    a call to the bar per line cost the million-row import seconds)."""

    STEP = 256 * 1024

    def __init__(self, handle, advance):
        self._handle = handle
        self._advance = advance

    def __iter__(self):
        pending = 0
        for line in self._handle:
            pending += len(line.encode())
            if pending >= self.STEP:
                self._advance(pending)
                pending = 0
            yield line
        if pending:
            self._advance(pending)
