import pytest
from django.core.exceptions import ValidationError

from artifacts import names


@pytest.mark.parametrize("value", ["reviewco", "a", "team_1-x", "a" * 64])
def test_valid_entity_names_pass(value):
    names.validate_entity_name(value)


@pytest.mark.parametrize("value", ["", "ReviewCo", "a.b", "a b", "a" * 65, "admin", "registry"])
def test_invalid_entity_names_are_rejected_with_the_rule(value):
    with pytest.raises(ValidationError) as exc:
        names.validate_entity_name(value)
    assert "entity name" in exc.value.messages[0]


@pytest.mark.parametrize("value", ["MNIST-dev", "mnist_model", "Fine-Tuned-Review-Autocompletion", "a.b", "x" * 128])
def test_valid_names_pass(value):
    names.validate_name(value)


@pytest.mark.parametrize("value", ["", "a/b", "a b", "x" * 129, "na\x00me", "..", "é"])
def test_invalid_names_are_rejected(value):
    with pytest.raises(ValidationError, match="1-128 characters"):
        names.validate_name(value, "artifact name")


@pytest.mark.parametrize("value", ["latest", "v0", "v3", "v12"])
def test_reserved_aliases_are_rejected(value):
    with pytest.raises(ValidationError) as exc:
        names.validate_alias(value)
    assert exc.value.code == "reserved"


@pytest.mark.parametrize("value", ["production", "staging", "v3a", "best.v2", "V3"])
def test_ordinary_aliases_pass(value):
    names.validate_alias(value)


@pytest.mark.parametrize("value", ["model.pt", "a/b/c.bin", "dir/.hidden", "x" * 1024])
def test_relative_paths_pass(value):
    names.validate_file_path(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\\b", "backslash"),
        ("a\x00b", "NUL"),
        ("a//b", "empty"),
        ("", "empty"),
        ("x" * 1025, "longer than 1024"),
    ],
)
def test_escaping_paths_are_rejected_with_the_reason(value, reason):
    with pytest.raises(ValidationError) as exc:
        names.validate_file_path(value)
    assert reason in exc.value.messages[0]


@pytest.mark.parametrize("value", ["line\nbreak.txt", "tab\there", "bell\x07", "del\x7f"])
def test_control_characters_in_paths_are_rejected(value):
    with pytest.raises(ValidationError, match="control character"):
        names.validate_file_path(value)
