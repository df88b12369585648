"""Background tasks (Django's tasks API through django-tasks; django-tasks-db keeps them in the database), run by
`manage.py run_worker`."""

from django_tasks import task

from registry import automations


@task()
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at a webhook delivery; a retry is a new task, enqueued by the attempt that failed."""
    return automations.delivery_attempt(delivery_id=delivery_id)
