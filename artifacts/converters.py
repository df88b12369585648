from artifacts.names import RESERVED_ENTITY_NAMES

# An entity name, but never a reserved one (`admin`, `profile`, ...): `/admin` is then no entity page, and
# CommonMiddleware still sends it on to `/admin/`.
_RESERVED = "|".join(sorted(RESERVED_ENTITY_NAMES))


class EntityNameConverter:
    regex = f"(?!(?:{_RESERVED})(?![a-z0-9_-]))[a-z0-9_-]{{1,64}}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class NameConverter(EntityNameConverter):
    regex = "[A-Za-z0-9_.-]{1,128}"


class RunIdConverter(EntityNameConverter):
    """A run id (names.validate_run_id): one path segment; ids the rule refuses simply find no run."""

    regex = "[^/]{1,128}"
