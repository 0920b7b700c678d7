"""Terminal I/O for the console: lines in from a thread, text out without garbling the prompt.

Standard input is read in a daemon thread, one line per request, because asyncio cannot watch a
regular file and a blocked read must never hold up the bot's event loop or its shutdown. Output
arrives at any time (a thread reply lands while the prompt waits), so on a terminal the prompt is
cleared, the text printed, and the prompt drawn again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TextIO

_CLEAR_LINE = "\r\x1b[K"


class Terminal:
    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self.interactive = _isatty(stdin) and _isatty(stdout)
        self._prompt: str | None = None
        self._wanted = threading.Semaphore(0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Future[str | None] | None = None
        self._thread: threading.Thread | None = None
        self._prompt_on_screen = False

    # -- output ----------------------------------------------------------------------------------
    def show(self, text: str) -> None:
        """Print `text` (one or more lines) above the prompt."""
        if self._prompt_on_screen:
            text = _CLEAR_LINE + text
        self._prompt_on_screen = False
        if self.interactive and self._prompt is not None:
            text += "\n" + self._prompt
            self._prompt_on_screen = True
        else:
            text += "\n"
        self._stdout.write(text)
        self._stdout.flush()

    # -- input -----------------------------------------------------------------------------------
    async def read_line(self, prompt: str) -> str | None:
        """The next line without its newline, or None at end of input."""
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._loop = loop
            self._thread = threading.Thread(target=self._read_forever, daemon=True, name="stdin")
            self._thread.start()
        self._pending = loop.create_future()
        if self.interactive:
            self._prompt = prompt
            self._stdout.write(prompt)
            self._stdout.flush()
            self._prompt_on_screen = True
        self._wanted.release()
        try:
            line = await self._pending
        except asyncio.CancelledError:
            if self._prompt_on_screen:  # Ctrl-C at the prompt: what follows starts on its own line
                self._stdout.write("\n")
                self._stdout.flush()
            raise
        finally:
            self._prompt = None
        # Enter moved the cursor to a new line (unless the line was typed ahead of the prompt,
        # when the prompt stays alone on its line and the next output clears it).
        self._prompt_on_screen = False
        return line

    def _read_forever(self) -> None:
        while True:
            self._wanted.acquire()
            try:
                line: str | None = self._stdin.readline()
            except (OSError, ValueError):
                line = ""
            if not line:
                line = None
            else:
                line = line.rstrip("\r\n")
            self._deliver(line)
            if line is None:
                return

    def _deliver(self, line: str | None) -> None:
        loop, future = self._loop, self._pending
        if loop is None or future is None:
            return

        def resolve() -> None:
            if not future.done():
                future.set_result(line)

        with contextlib.suppress(RuntimeError):  # the loop already closed: nobody is reading
            loop.call_soon_threadsafe(resolve)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
