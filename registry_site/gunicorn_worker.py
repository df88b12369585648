"""gunicorn's threaded worker (gthread), taking new connections only while one of its threads is free.

gthread accepts every connection it can and queues its requests for its own threads. Clients that arrive at once
(16 SDK processes linking, a CI fan-out) are then shared out by whichever worker wakes first, often most of them to
one: its threads are all busy while the other worker idles, and as clients keep their connections open, it stays so.
Here a worker with every thread busy stops accepting, so new connections wait in the listening socket for a worker
with a free thread. Requests on connections a worker holds already are still queued there as gunicorn does.
"""

from gunicorn.workers.gthread import ThreadWorker


class Worker(ThreadWorker):
    busy = 0  # requests given to the thread pool and not finished (the main thread counts them)

    def enqueue_req(self, conn):
        self.busy += 1
        super().enqueue_req(conn)
        if self.busy >= self.cfg.threads:
            self.set_accept_enabled(False)

    def finish_request(self, conn, fs):
        self.busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled):
        # gunicorn's loop turns accepting back on whenever it has room for connections; only with a free thread.
        super().set_accept_enabled(enabled and self.busy < self.cfg.threads)
