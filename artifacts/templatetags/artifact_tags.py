import nh3
from django import template
from django.utils.safestring import mark_safe
from markdown_it import MarkdownIt

from artifacts import jsonvalues

register = template.Library()


@register.filter
def humansize(num_bytes: int | None) -> str:
    """4300 -> '4.2KB', as the W&B UI shows sizes."""
    if num_bytes is None:
        return ""
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}PB"


@register.filter
def signed_size(delta: int | None) -> str:
    """A size difference: '+4.2KB', '−300B', '0B'."""
    if delta is None:
        return ""
    sign = "+" if delta > 0 else "−" if delta < 0 else ""
    return sign + humansize(abs(delta))


@register.filter
def is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list)


@register.filter
def as_json(value: object) -> str:
    """Config and summary values as their JSON, not Python's repr (`{"a": true}`, not `{'a': True}`)."""
    return value if isinstance(value, str) else jsonvalues.as_text(value)


@register.filter
def config_items(config: dict) -> list:
    """A run's config without the SDK's own `_wandb` entry, which W&B's run page hides too."""
    return [(k, v) for k, v in (config or {}).items() if k != "_wandb"]


@register.filter
def public_items(data: dict) -> list:
    """Items without the SDK's bookkeeping keys (`_step`, `_runtime`, `_timestamp`, ...)."""
    return [(k, v) for k, v in (data or {}).items() if not str(k).startswith("_")]


# CommonMark (markdown-it-py: linear time on any input, unlike Python-Markdown, which took half a minute on
# 20,000 brackets and recursed out on deeply nested lists), with tables and strikethrough. Raw HTML is shown as
# text, nesting stops at 20 levels, and nh3 sanitises the result as well.
MARKDOWN = MarkdownIt("commonmark", {"html": False, "maxNesting": 20}).enable(["table", "strikethrough"])


@register.filter
def markdown(text: str) -> str:
    """Markdown rendered to HTML and then sanitised: no scripts, no event handlers, no javascript: links."""
    html = MARKDOWN.render(text or "")
    return mark_safe(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S308 - sanitised above
