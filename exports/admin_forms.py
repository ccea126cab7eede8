"""Forms of the Data pipeline screen. They only collect input: the services validate it, so
the admin shows the same messages as the REST API and the commands."""

from __future__ import annotations

from django import forms

from datapipeline.properties import PROPERTIES
from datapipeline.schema import DEFAULT_VERSION, VERSIONS

WEEKDAYS = [("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"), ("fri", "Friday"),
            ("sat", "Saturday"), ("sun", "Sunday")]  # fmt: skip


def schema_choices() -> list[tuple[str, str]]:
    return [(str(v.version), f"{v.version} ({v.status})") for v in VERSIONS]


class StartExportForm(forms.Form):
    from_date = forms.CharField(
        label="fromDate",
        required=False,
        help_text="ISO 8601 with an offset, e.g. 2026-01-31T00:00:00Z; empty means 365 days ago.",
        widget=forms.TextInput(attrs={"size": 32, "placeholder": "2026-01-31T00:00:00Z"}),
    )
    # A CharField behind a select: an unknown version reaches the service, which words the error.
    schema_version = forms.CharField(
        label="Schema version", required=False, initial=str(DEFAULT_VERSION), widget=forms.Select(choices=[])
    )
    force_export = forms.BooleanField(
        label="Force export", required=False, help_text="Turn pre-validation failures into warnings."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schema_version"].widget.choices = schema_choices()


class OptOutAddForm(forms.Form):
    keys = forms.CharField(
        label="Space keys",
        help_text="One or more space keys, separated by commas or spaces.",
        widget=forms.TextInput(attrs={"size": 50}),
    )
    continue_if_not_found = forms.BooleanField(
        label="Skip unknown keys", required=False, help_text="Add the keys that exist and ignore the others."
    )

    def cleaned_keys(self) -> list[str]:
        return [k for k in self.cleaned_data["keys"].replace(",", " ").split() if k]


class ExportPathForm(forms.Form):
    path = forms.CharField(label="Custom export path", widget=forms.TextInput(attrs={"size": 70}))


class TokenCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, widget=forms.TextInput(attrs={"size": 40}))
    expiry_days = forms.IntegerField(
        label="Expires in (days)",
        required=False,
        min_value=1,
        max_value=3650,
        initial=90,
        help_text="Empty: the token never expires.",
    )


class PropertiesForm(forms.Form):
    """One text field per configuration property, named after it."""

    def __init__(self, *args, initial_values: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for name, prop in PROPERTIES.items():
            self.fields[name] = forms.CharField(
                label=name,
                required=False,
                initial=initial_values[name],
                help_text=prop.description,
                strip=False,
                widget=forms.TextInput(attrs={"size": 24}),
            )


class ScheduleForm(forms.Form):
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    days = forms.MultipleChoiceField(
        label="Days", choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    repeat_interval_weeks = forms.IntegerField(label="Repeat every (weeks)", initial=1, help_text="1 to 52.")
    time = forms.CharField(label="Time", initial="02:00", help_text="HH:MM or HH:MM:SS, in the server time zone.")
    window = forms.ChoiceField(
        label="Data window",
        choices=[("rolling", "Rolling window (the last N days before each run)"), ("absolute", "From a fixed date")],
        initial="rolling",
        widget=forms.RadioSelect,
    )
    rolling_window_days = forms.IntegerField(label="Rolling window (days)", required=False, initial=365)
    from_date = forms.CharField(
        label="fromDate", required=False, help_text="ISO 8601 with an offset, e.g. 2026-01-31T00:00:00Z."
    )
    schema_version = forms.CharField(label="Schema version", required=False, widget=forms.Select(choices=[]))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schema_version"].widget.choices = [("", "The default version"), *schema_choices()]
