"""A function run in a forked process while this one goes on, its value or error handed back.

The forked process inherits what the function needs (a network, a result) instead of
receiving it pickled; only the value returned travels back, through a pipe.  What the
function raises there is raised here by :meth:`Forked.result`, with the traceback of
the other process as a note; a process that dies without a word (killed, or a crash of
the interpreter) is a :class:`RuntimeError` naming its exit code.  :meth:`Forked.stop`
ends it if this side fails first.  Fork only: the callers check that the system has it.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Forked", "can_fork"]


def can_fork() -> bool:
    """Whether this process may fork one that runs beside it (a daemon may not start processes)."""
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


class Forked:
    """``function(*args, **kwargs)`` in a forked process, started at once.

    ``what`` names the work in messages ("writing map.html"); ``daemon`` processes die
    with this one but may not start processes of their own.
    """

    def __init__(self, function: Callable[..., Any], *args: Any, what: str, daemon: bool = True, **kwargs: Any) -> None:
        context = multiprocessing.get_context("fork")
        self.what = what
        self._reader, writer = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run, args=(writer, function, args, kwargs), name=f"coverage: {what}", daemon=daemon
        )
        self._process.start()
        writer.close()  # the child's end: when the child dies, recv() here ends

    def result(self) -> Any:
        """The function's value, once it returns; what it raised is raised here."""
        try:
            ok, value, where = self._reader.recv()
        except EOFError:
            self._process.join()
            raise RuntimeError(
                f"the process {self.what} ended without a word (exit code {self._process.exitcode})"
            ) from None
        self._process.join()
        if not ok:
            value.add_note(f"(raised in the process {self.what})\n{where}")
            raise value
        return value

    def stop(self) -> None:
        """End the process if it still runs, and release the pipe."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._reader.close()


def _run(writer: Connection, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """In the forked process: send (True, value, "") or (False, what was raised, where).

    SIGTERM gets its default action back: the handler the parent may have set (the
    command line's, which unwinds a run) would print a traceback here when :meth:`Forked.stop`
    ends this process."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        outcome: tuple[bool, Any, str] = (True, function(*args, **kwargs), "")
    except BaseException as error:  # sent back, raised again in the parent
        outcome = (False, error, traceback.format_exc())
    try:
        writer.send(outcome)
    except Exception as unpicklable:  # a value or an exception that cannot be pickled: its text
        failed = outcome[1] if not outcome[0] else unpicklable
        writer.send((False, RuntimeError(f"{type(failed).__name__}: {failed}"), outcome[2] or traceback.format_exc()))
    writer.close()
