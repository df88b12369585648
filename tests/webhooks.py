"""A live webhook receiver on 127.0.0.1, and the worker's loop run in the test's own process."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import transaction
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from registry import services
from registry.automations import DEFAULT_TEMPLATE
from registry.models import Automation, AutomationEvent, Webhook

SECRET = "s3cret-for-signing"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("X-Wandb-Signature", ""), expected)


@dataclass
class Receiver:
    """Answers each POST with the next of `answers` (status codes; the last repeats), or calls `behave`."""

    answers: list[int] = field(default_factory=lambda: [200])
    behave: Callable | None = None
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                if receiver.behave is not None:
                    receiver.behave(self, len(receiver.requests))
                    return
                n = len(receiver.requests)
                code = receiver.answers[min(n, len(receiver.answers)) - 1]
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"got {len(self.requests)} requests, waited for {count}"
            time.sleep(0.05)
        return self.requests


def run_tasks(limit: int = 50) -> int:
    """What `manage.py run_worker --batch` does, in this process: run every task that is ready, including retries
    that become ready meanwhile (tests set a tiny backoff); returns how many ran."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    while ran < limit:
        with transaction.atomic():
            task = DBTaskResult.objects.ready().filter(backend_name="default").get_locked()
            if task is None:
                return ran
            task.claim(worker.worker_id)
        worker.run_task(task)
        ran += 1
    return ran


def make_webhook(entity, user, url: str, *, name: str = "ci", secret: str = SECRET, headers=None) -> Webhook:
    return services.webhook_create(entity=entity, name=name, url=url, secret=secret, headers=headers, user=user)


def make_automation(
    entity,
    user,
    webhook: Webhook,
    *,
    name: str = "notify-ci",
    event: str = AutomationEvent.LINK_CREATED,
    alias_pattern: str = "",
    registered_model=None,
    payload_template: str = DEFAULT_TEMPLATE,
) -> Automation:
    return services.automation_create(
        entity=entity,
        name=name,
        event=event,
        alias_pattern=alias_pattern,
        registered_model=registered_model,
        webhook=webhook,
        payload_template=payload_template,
        user=user,
    )


def database_url() -> str:
    """The test database, for a subprocess (a worker) to share."""
    from urllib.parse import quote

    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
