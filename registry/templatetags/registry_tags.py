from django import template

from registry.models import RegisteredModel

register = template.Library()


@register.simple_tag
def route(registered_model: RegisteredModel, name: str, *args: object) -> str:
    """`{% route rm "model_tag_add" %}`: a page of a registered model or a collection (RegisteredModel.route); of
    an automation or a webhook too (`{% route automation "automation_test" %}`)."""
    return registered_model.route(name, *args)
