"""Hot reload: a background thread that notices a newly published index version.

``qa index`` (or the admin page) publishes a version by replacing the ``current``
symlink; this thread reads that link every ``QA_RELOAD_SECONDS`` and asks the
assistant to swap. Reading a symlink is cheap, so polling costs nothing worth
saving, and it works the same on every file system (inotify does not see a
symlink replaced on a network mount).

A version that cannot be loaded is logged once and then ignored until another
version is published; the old one keeps serving. The thread never dies of an
error: an exception in a server's only reloader would silently end hot reload.
"""

from __future__ import annotations

import logging
import threading

from .. import index as store
from ..assistant import Assistant
from ..errors import QAError

log = logging.getLogger(__name__)


class IndexWatcher:
    """Polls the published version and reloads the assistant when it changes."""

    def __init__(self, assistant: Assistant, interval: float) -> None:
        self.assistant = assistant
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: str | None = None  # the version already reported as unloadable
        self._unreadable = False  # already reported that ``current`` cannot be read

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start polling (no-op when the interval is 0, i.e. hot reload is switched off)."""
        if self.interval <= 0 or self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="qa-index-watcher", daemon=True)
        self._thread.start()
        log.info("watching %s for new index versions every %.1f s", self.assistant.settings.index_dir, self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> bool:
        """One check; True when a new version was swapped in."""
        try:
            version = store.current_version(self.assistant.settings.index_dir)
        except OSError as exc:  # e.g. the index folder is unreachable on a network mount: say so once
            if not self._unreadable:
                log.warning("cannot read the current index version: %s", exc)
            self._unreadable = True
            return False
        self._unreadable = False
        if version is None or version == self._failed:
            return False
        try:
            # Also called when nothing changed: that clears a stale failure after a rollback.
            swapped = self.assistant.reload()
        except Exception as exc:  # ReloadFailed, or a bug: either way keep serving and keep watching
            self._failed = version
            log.error("%s", exc, exc_info=not isinstance(exc, QAError))
            return False
        self._failed = None
        return swapped
