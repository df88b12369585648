from django import forms


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        label="Key name",
        help_text="A label to recognise the key later, e.g. the machine that uses it.",
    )
