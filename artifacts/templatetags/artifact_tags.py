from django import template

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
def is_scalar(value: object) -> bool:
    return not isinstance(value, dict | list)
