"""Automations: which events fire which webhooks, and delivering them, outside any web request.

The registry's services record events in one place (`services._Events.save()`); `dispatch()` runs right after, in
the same transaction, and turns each matching automation into a `Delivery` row (the payload rendered then) plus a
task row for the worker: both commit with the change, or neither does. A worker (`manage.py run_worker`) runs
`registry.tasks.deliver_webhook`, which calls `delivery_attempt()`; the Delivery row, not the task, is the source of
truth, so `delivery_sweep()` gives back deliveries whose worker died mid-way (see README, Automations).
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from re import _constants as _sre
from re import _parser
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from artifacts import jsonvalues
from artifacts.models import Event, EventKind
from registry.models import (
    Automation,
    AutomationEvent,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Link,
    RegisteredModel,
    Webhook,
)
from registry_site.prepared import Prepared

SIGNATURE_HEADER = "X-Wandb-Signature"
DELIVERY_HEADER = "X-Wandb-Delivery"
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "registry-webhooks/1"

# The events an automation's event stands for.
KINDS = {
    EventKind.LINK_CREATED: AutomationEvent.LINK_CREATED,
    EventKind.ALIAS_SET: AutomationEvent.ALIAS_ADDED,
    EventKind.ALIAS_MOVED: AutomationEvent.ALIAS_ADDED,
}

# The payload variables, as W&B names them, with what the Test button sends.
VARIABLES = {
    "event_type": ("The event: LINK_ARTIFACT or ADD_ARTIFACT_ALIAS.", "ADD_ARTIFACT_ALIAS"),
    "event_author": ("Who made the change (username; empty for the system).", "alice"),
    "event_time": ("When, ISO 8601 in UTC.", "2026-11-26T10:02:00+00:00"),
    "alias": ("The alias added (empty when a version is linked).", "production"),
    "artifact_version": ("The registry version: v3.", "v3"),
    "artifact_version_string": (
        "The version's full name: entity/model-registry/Name:v3.",
        "team/model-registry/Model:v3",
    ),
    "artifact_collection_name": ("The registered model (collection).", "Model"),
    "artifact_source_version": ("The linked artifact version: name:v7.", "model-artifact:v7"),
    "project_name": ("The project: model-registry, or wandb-registry-<name>.", "model-registry"),
    "entity_name": ("The team (entity).", "team"),
}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

DEFAULT_TEMPLATE = """{
  "event_type": "${event_type}",
  "event_author": "${event_author}",
  "alias": "${alias}",
  "artifact_version": "${artifact_version}",
  "artifact_version_string": "${artifact_version_string}",
  "artifact_collection_name": "${artifact_collection_name}",
  "project_name": "${project_name}",
  "entity_name": "${entity_name}"
}"""

FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection", SIGNATURE_HEADER.lower()}
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def render(template: str, values: dict[str, str]) -> str:
    """`${name}` replaced by its value, escaped for a JSON string (templates put variables inside quotes)."""
    return VARIABLE.sub(lambda m: json.dumps(str(values[m.group(1)]))[1:-1], template)


def validate_template(template: str) -> None:
    """Known variables only, and valid JSON once they are replaced (by sample values holding quotes and
    backslashes, so a variable outside quotes or an unescaped one shows)."""
    unknown = sorted({name for name in VARIABLE.findall(template) if name not in VARIABLES})
    if unknown:
        raise ValidationError(
            "Unknown payload variable %(names)s: use %(known)s.",
            code="unknown_variable",
            params={"names": ", ".join(f"${{{n}}}" for n in unknown), "known": ", ".join(VARIABLES)},
        )
    samples = {name: f'{sample} "q" \\' for name, (_, sample) in VARIABLES.items()}
    rendered = render(template, samples)
    try:
        json.loads(rendered)
    except ValueError as exc:
        raise ValidationError(
            "The payload is not valid JSON once its variables are filled in (put each ${variable} inside a "
            "JSON string): %(error)s",
            code="invalid_json",
            params={"error": exc},
        ) from exc
    except RecursionError:
        pass  # nested too deep: jsonvalues says so below
    # Where JSON enters, its depth and text are bounded alike (artifacts/jsonvalues.py).
    jsonvalues.loads(rendered, "payload")


MAX_PATTERN_LENGTH = 200
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT}


def _backtracks(items, inside_repeat: bool = False) -> bool:
    """Whether a parsed pattern repeats something that itself repeats or branches, such as `(a+)+` or `(a|ab)*`:
    the shapes that make a regular expression engine backtrack exponentially on a crafted alias."""
    for op, value in items:
        if op in _REPEATS:
            _, most, sub = value
            repeats = most is _sre.MAXREPEAT or most > 1
            if (repeats and inside_repeat) or _backtracks(sub, inside_repeat or repeats):
                return True
        elif op is _sre.BRANCH:
            if inside_repeat or any(_backtracks(branch, inside_repeat) for branch in value[1]):
                return True
        elif op in (_sre.SUBPATTERN, _sre.ASSERT, _sre.ASSERT_NOT) and _backtracks(value[-1], inside_repeat):
            return True
    return False


def validate_alias_pattern(pattern: str) -> None:
    """A regular expression the whole alias must match. It runs in the request that sets an alias, so a pattern
    that can backtrack without end (a repeat inside a repeat, or alternatives inside one) is refused."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationError(
            "An alias pattern has at most %(n)s characters.", code="invalid_regex", params={"n": MAX_PATTERN_LENGTH}
        )
    try:
        re.compile(pattern)
        parsed = _parser.parse(pattern)
    except re.error as exc:
        raise ValidationError(
            "The alias pattern is not a valid regular expression: %(error)s",
            code="invalid_regex",
            params={"error": exc},
        ) from exc
    if _backtracks(list(parsed)):
        raise ValidationError(
            "The alias pattern repeats a part that itself repeats or has alternatives (like (a+)+ or (a|b)*): "
            "write it without nesting, such as production|staging or v[0-9]+.",
            code="invalid_regex",
        )


def alias_matches(pattern: str, alias: str) -> bool:
    return re.fullmatch(pattern, alias) is not None


def validate_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if not HEADER_NAME.match(name):
            raise ValidationError("'%(name)s' is not a valid header name.", code="header", params={"name": name})
        if name.lower() in FORBIDDEN_HEADERS:
            raise ValidationError("The header %(name)s is set by the server.", code="header", params={"name": name})
        if any(c in value for c in "\r\n\0"):
            raise ValidationError("A header value is one line.", code="header")


# Outbound safety.


class UnsafeURL(ValidationError):
    pass


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is false for loopback, private, link-local, shared (100.64/10), reserved and unspecified.
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def resolve(url: str) -> Target:
    """The URL's parts and the one address to connect to, refusing what is not http(s) and, unless
    WEBHOOK_ALLOW_PRIVATE is on, any host that resolves to a non-public address (all its addresses are checked;
    the caller connects to the checked one, so a second lookup cannot answer otherwise)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("Not a valid URL: %(error)s", code="invalid_url", params={"error": exc}) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("A webhook URL starts with http:// or https:// and names a host.", code="invalid_url")
    if parts.username or parts.password:
        raise UnsafeURL("Put credentials in a header or the secret, not in the URL.", code="invalid_url")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(
            "The host %(host)s could not be resolved.", code="unresolved", params={"host": parts.hostname}
        ) from exc
    addresses = [info[4][0] for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        refused = [a for a in addresses if not _public(a)]
        if refused:
            raise UnsafeURL(
                "%(host)s resolves to %(address)s, a loopback, private, link-local or reserved address: webhooks "
                "go to public addresses only (WEBHOOK_ALLOW_PRIVATE=1 allows others).",
                code="private_address",
                params={"host": parts.hostname, "address": refused[0]},
            )
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, verifying the certificate for the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Outcome:
    response_code: int | None
    duration_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


def _read_capped(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """At most MAX_RESPONSE_BYTES of the answer, and only until `deadline`: a receiver dripping bytes cannot hold
    the worker past its lease."""
    answer = b""
    while len(answer) < MAX_RESPONSE_BYTES and time.monotonic() < deadline:
        chunk = response.read1(min(8192, MAX_RESPONSE_BYTES - len(answer)))
        if not chunk:
            break
        answer += chunk
    return answer


def lease() -> timedelta:
    """How long a worker holds a delivery: at least the longest one attempt can take (connecting, waiting for the
    answer's first line, reading it: a timeout each), with a margin."""
    return timedelta(seconds=max(settings.WEBHOOK_LEASE_SECONDS, 3 * settings.WEBHOOK_TIMEOUT + 5))


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(webhook: Webhook, body: bytes, delivery_id: int | None = None) -> Outcome:
    """One POST, never following a redirect, reading at most MAX_RESPONSE_BYTES of the answer."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve(webhook.url)
    except ValidationError as exc:
        return Outcome(None, took(), " ".join(exc.messages))
    headers = {**webhook.headers, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    if webhook.secret:
        headers[SIGNATURE_HEADER] = signature(webhook.secret, body)
    if delivery_id is not None:
        headers[DELIVERY_HEADER] = str(delivery_id)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, timeout=settings.WEBHOOK_TIMEOUT)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        code = response.status
        answer = _read_capped(response, started + settings.WEBHOOK_TIMEOUT)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, took(), f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        connection.close()
    if 200 <= code < 300:
        return Outcome(code, took(), "")
    if 300 <= code < 400:
        error = f"Redirect to {response.getheader('Location', '?')[:300]} not followed."
    else:
        error = answer[:300].decode("utf-8", "replace")
    return Outcome(code, took(), error)


# Firing.


def _values(event: Event, link: Link) -> dict[str, str]:
    rm = link.registered_model
    label = (event.after or {}).get("version") or event.object_label.rpartition(":")[2]
    prefix = rm.project_name if rm.is_collection else f"{rm.entity.name}/{rm.project_name}"
    return {
        "event_type": KINDS[event.kind],
        "event_author": event.actor_name,
        "event_time": event.created_at.isoformat(),
        "alias": event.alias,
        "artifact_version": label,
        "artifact_version_string": f"{prefix}/{rm.name}:{label}",
        "artifact_collection_name": rm.name,
        "artifact_source_version": (event.after or {}).get("source", "") or _source_of(link, label),
        "project_name": rm.project_name,
        "entity_name": rm.entity.name,
    }


def _source_of(link: Link, label: str) -> str:
    if link.label != label:
        return ""
    return f"{link.source.artifact.name}:{link.source.label}"


# Read by every link: prepared once (registry_site/prepared.py). A scope has a handful of automations.
_OF_REGISTRY: Prepared[Automation] = Prepared(
    lambda registry_id: (
        Automation.objects.filter(enabled=True, registry_id=registry_id).select_related("webhook").order_by("pk")
    ),
    int,
)
_OF_TEAM: Prepared[Automation] = Prepared(
    lambda entity_id: (
        Automation.objects.filter(enabled=True, entity_id=entity_id, registry=None)
        .select_related("webhook")
        .order_by("pk")
    ),
    int,
)


def enabled_automations(rm: RegisteredModel) -> list[Automation]:
    """The enabled automations of the registered model's registry (or team's Model Registry), by id; none for a
    portfolio."""
    if rm.is_portfolio:
        return []
    if rm.is_collection:
        return _OF_REGISTRY(rm.registry_id)
    return _OF_TEAM(rm.entity_id)


def dispatch(*, events: Iterable[Event], link: Link, enabled: list[Automation] | None = None) -> list[Delivery]:
    """The deliveries the saved `events` (of one registered model, `link`'s) owe, written and enqueued in the
    caller's transaction. Costs nothing for events no automation watches, one indexed query otherwise (none when
    the caller read `enabled_automations` already, before taking a lock)."""
    events = [e for e in events if e.kind in KINDS]
    watched = {KINDS[e.kind] for e in events}
    if events and enabled is None:
        enabled = enabled_automations(link.registered_model)
    automations = [a for a in enabled if a.event in watched] if events else []
    if not automations:
        return []
    rm_id = link.registered_model_id
    now = timezone.now()
    deliveries = []
    for event in events:
        values = None
        for automation in automations:
            if automation.event != KINDS[event.kind]:
                continue
            if automation.registered_model_id is not None and automation.registered_model_id != rm_id:
                continue
            if automation.event == AutomationEvent.ALIAS_ADDED and not alias_matches(
                automation.alias_pattern, event.alias
            ):
                continue
            values = values or _values(event, link)
            deliveries.append(
                Delivery(
                    automation=automation,
                    event_id=event.pk,
                    event_type=values["event_type"],
                    summary=_summary(values),
                    payload=render(automation.payload_template, values),
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    for delivery in deliveries:
        delivery.save()
        _enqueue(delivery)
    return deliveries


def _summary(values: dict[str, str]) -> str:
    alias = f" {values['alias']}" if values["alias"] else ""
    author = f" by {values['event_author']}" if values["event_author"] else ""
    return f"{values['artifact_collection_name']}:{values['artifact_version']}{alias}{author}"[:400]


def _enqueue(delivery: Delivery, run_after=None) -> None:
    """A task for the worker, in the caller's transaction (django-tasks-db inserts its row there)."""
    from registry.tasks import deliver_webhook

    task = deliver_webhook if run_after is None else deliver_webhook.using(run_after=run_after)
    result = task.enqueue(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(task_id=str(result.id))


@transaction.atomic
def delivery_test(*, automation: Automation) -> Delivery:
    """What the Test button sends: the payload with sample values, through the worker like any other."""
    values = {name: sample for name, (_, sample) in VARIABLES.items()}
    values["event_type"] = automation.event
    now = timezone.now()
    delivery = Delivery.objects.create(
        automation=automation,
        event_type=automation.event,
        is_test=True,
        summary="Test payload",
        payload=render(automation.payload_template, values),
        next_attempt_at=now,
        created_at=now,
    )
    _enqueue(delivery)
    return delivery


# Delivering.


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 3x base, 9x base..."""
    return timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 3 ** (attempts - 1))


def delivery_attempt(*, delivery_id: int) -> str:
    """One attempt at a delivery, if it is due and no other worker holds it: claimed (status `sending`, a lease),
    POSTed outside any transaction, then recorded, and retried later by a new task while attempts remain."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, lease_until=now + lease()
    )
    if not claimed:
        return "not due"
    delivery = Delivery.objects.select_related("automation__webhook").get(pk=delivery_id)
    outcome = post(delivery.automation.webhook, delivery.payload.encode(), delivery.pk)
    with transaction.atomic():
        # Ours still, unless the lease ran out and a sweep gave it to another attempt.
        mine = Delivery.objects.select_for_update().filter(
            pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts
        )
        if not mine.exists():
            return "lease lost"
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            started_at=now,
            duration_ms=outcome.duration_ms,
            response_code=outcome.response_code,
            error=outcome.error,
        )
        fields = {
            "response_code": outcome.response_code,
            "duration_ms": outcome.duration_ms,
            "last_error": outcome.error,
            "lease_until": None,
        }
        if outcome.ok:
            mine.update(status=DeliveryStatus.SUCCEEDED, finished_at=timezone.now(), **fields)
            return "succeeded"
        _retry_or_fail(mine, delivery, delivery.attempts, fields)
    return "failed"


def _retry_or_fail(rows, delivery: Delivery, attempts: int, fields: dict) -> None:
    if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        rows.update(status=DeliveryStatus.FAILED, finished_at=timezone.now(), **fields)
        return
    when = timezone.now() + retry_delay(attempts)
    rows.update(status=DeliveryStatus.PENDING, next_attempt_at=when, **fields)
    _enqueue(delivery, run_after=when)


def delivery_sweep() -> int:
    """Give back what dead workers held: deliveries `sending` past their lease are attempted again (the lost
    attempt logged), and pending ones long overdue whose task is not waiting get a new task. Safe to run from
    every worker at once: each change is conditional on the row being as it was read."""
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    held = lease()
    swept = 0
    for delivery in Delivery.objects.filter(status=DeliveryStatus.SENDING, lease_until__lt=now).order_by()[:500]:
        with transaction.atomic():
            rows = Delivery.objects.filter(
                pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts, lease_until__lt=now
            )
            if not rows.exists():
                continue
            error = "The worker stopped during this attempt; it is attempted again."
            DeliveryAttempt.objects.create(
                delivery=delivery, number=delivery.attempts, started_at=delivery.lease_until - held, error=error
            )
            _retry_or_fail(rows, delivery, delivery.attempts, {"last_error": error, "lease_until": None})
            swept += 1
    overdue = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=now - held).order_by()
    for delivery in overdue[:500]:
        waiting = DBTaskResult.objects.filter(pk=delivery.task_id or None, status="READY").exists()
        if not waiting:
            with transaction.atomic():
                _enqueue(delivery)
            swept += 1
    # The task rows of killed workers stay RUNNING forever: close them, their deliveries are handled above.
    DBTaskResult.objects.filter(
        status="RUNNING", task_path="registry.tasks.deliver_webhook", started_at__lt=now - held
    ).update(status="FAILED", finished_at=now, exception_class_path="", traceback="The worker was lost.")
    return swept
