"""gunicorn's threaded worker (gthread), leaving new connections to the other workers while its threads are busy.

gthread accepts every connection it can and queues its requests for its own threads. Clients that arrive at once
(16 SDK processes linking, a CI fan-out) are then shared out by whichever worker wakes first, often most of them to
one: its threads are all busy while the other worker idles, and as clients keep their connections open, it stays so.
Here a worker with every thread busy stops accepting for up to PAUSE seconds, so a new connection waits in the
listening socket for a worker with a free thread; when none has one by then, the busy worker takes it after all
and queues it as gthread does, so no client waits on the listening socket for long however busy the server is.
Requests on connections a worker holds already are queued there as gunicorn does.
"""

import time

from gunicorn.workers.gthread import ThreadWorker

PAUSE = 0.1


class Worker(ThreadWorker):
    busy = 0  # requests given to the thread pool and not finished (only the main thread counts them)
    paused_at = 0.0  # when accepting stopped for want of a free thread (time.monotonic())

    def _full(self) -> bool:
        return self.busy >= self.cfg.threads

    def enqueue_req(self, conn):
        self.busy += 1
        super().enqueue_req(conn)
        if self._full() and self._accepting:
            self.paused_at = time.monotonic()
            super().set_accept_enabled(False)

    def finish_request(self, conn, fs):
        self.busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled):
        # gunicorn's loop turns accepting back on whenever it has room for connections: only with a free thread,
        # or once the pause is over.
        if enabled and self._full():
            enabled = time.monotonic() - self.paused_at >= PAUSE
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout):
        # While paused, wake up when the pause ends (gunicorn's loop waits up to a second for events); once it has
        # ended, gunicorn's own wait (accepting may be off for another reason: worker_connections reached).
        remaining = self.paused_at + PAUSE - time.monotonic()
        if not self._accepting and self._full() and remaining > 0:
            timeout = min(timeout, remaining)
        super().wait_for_and_dispatch_events(timeout)
