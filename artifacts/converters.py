class EntityNameConverter:
    regex = "[a-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class NameConverter(EntityNameConverter):
    regex = "[A-Za-z0-9_.-]{1,128}"
