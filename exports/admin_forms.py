"""Forms of the Data pipeline screen. They only collect input: the services validate it, so
the admin shows the same messages as the REST API and the commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from datapipeline.properties import PROPERTIES
from datapipeline.schema import DEFAULT_VERSION, VERSIONS

from .inputs import FULL_NAMES, WEEKDAYS, token_expiry, whole_number_or_text

DAY_CHOICES = [(day, full.capitalize()) for day, full in zip(WEEKDAYS, FULL_NAMES, strict=True)]


def checked(rule: Callable[[Any], object], value: Any) -> Any:
    """``value`` once an input-layer ``rule`` (raising ValueError) accepts it; else its message as the field's error."""
    try:
        rule(value)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None
    return value


MODE_CHOICES = [("FULL", "Everything after fromDate"), ("INCREMENTAL", "Only what changed since the last export")]


def schema_choices() -> list[tuple[str, str]]:
    return [(str(v.version), f"{v.version} ({v.status})") for v in VERSIONS]


def format_field() -> forms.CharField:
    """The files' format: a CharField behind a select (an unknown value reaches the service, which words the error)."""
    return forms.CharField(
        label="Format",
        required=False,
        initial="csv",
        help_text="CSV (the compatible default) or Parquet (typed, exact text, smaller files).",
        widget=forms.Select(choices=[("csv", "CSV"), ("parquet", "Parquet")]),
    )


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
    file_format = format_field()
    force_export = forms.BooleanField(
        label="Force export", required=False, help_text="Turn pre-validation failures into warnings."
    )
    # Text behind radio buttons: the service validates the value (the same message as the API).
    mode = forms.CharField(label="What to export", required=False, initial="FULL",
                           widget=forms.RadioSelect(choices=MODE_CHOICES))  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schema_version"].widget.choices = schema_choices()


class OptOutAddForm(forms.Form):
    """Keys to add to the opt-out list, of one registered scope (a choice only when there are several)."""

    entity_type = forms.ChoiceField(label="Type", required=False)  # not given: the first scope (SPACE)
    keys = forms.CharField(
        label="Space keys",
        help_text="One or more space keys, separated by commas or spaces.",
        widget=forms.TextInput(attrs={"size": 50}),
    )
    continue_if_not_found = forms.BooleanField(
        label="Skip unknown keys", required=False, help_text="Add the keys that exist and ignore the others."
    )

    def __init__(self, *args: Any, scope_types: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["entity_type"]
        field.choices = [(t, t.capitalize()) for t in scope_types]
        field.initial = scope_types[0]
        if len(scope_types) == 1:
            field.widget = forms.HiddenInput()
        else:
            self.fields["keys"].label = "Keys"
            self.fields["keys"].help_text = "One or more keys of the chosen type, separated by commas or spaces."

    def clean_entity_type(self) -> str:
        return self.cleaned_data["entity_type"] or self.fields["entity_type"].initial


class ExportPathForm(forms.Form):
    path = forms.CharField(label="Custom export path", widget=forms.TextInput(attrs={"size": 70}))


class TokenCreateForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, widget=forms.TextInput(attrs={"size": 40}))
    # Checked by ``exports.inputs.token_expiry``: the same rule and words as the command.
    expiry_days = forms.IntegerField(
        label="Expires in (days)",
        required=False,
        initial=90,
        help_text="Empty: the token never expires.",
    )

    def clean_expiry_days(self) -> int | None:
        return checked(token_expiry, self.cleaned_data.get("expiry_days"))


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
    """Input of the schedule; ``exports.schedules.schedule_set`` validates it (same messages as the API)."""

    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    days = forms.MultipleChoiceField(
        label="Days", choices=DAY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    repeat_interval_weeks = forms.CharField(label="Repeat every (weeks)", initial="1", help_text="1 to 52.")
    time = forms.CharField(
        label="Time", initial="02:00:00", help_text="HH:MM or HH:MM:SS (24-hour) in the server time zone."
    )
    window = forms.ChoiceField(
        label="Data window",
        choices=[
            ("months", "The last N months before each run"),
            ("days", "The last N days before each run"),
            ("absolute", "Everything since a fixed fromDate"),
        ],
        initial="months",
        widget=forms.RadioSelect,
    )
    rolling_window_months = forms.CharField(label="Months", required=False, initial="12")
    rolling_window_days = forms.CharField(label="Days", required=False, initial="365")
    from_date = forms.CharField(
        label="fromDate", required=False, help_text="ISO 8601 with an offset, e.g. 2026-01-31T00:00:00Z."
    )
    schema_version = forms.CharField(label="Schema version", required=False, widget=forms.Select(choices=[]))
    mode = forms.CharField(label="What to export", required=False, initial="FULL",
                           widget=forms.RadioSelect(choices=MODE_CHOICES))  # fmt: skip
    file_format = format_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schema_version"].widget.choices = [("", "The default version"), *schema_choices()]

    def service_arguments(self) -> dict:
        """The keyword arguments of ``schedule_set``: whole numbers as ints, anything else as typed."""
        data = self.cleaned_data
        window = data["window"]
        number = whole_number_or_text
        return {
            "enabled": data["enabled"],
            "days": data["days"],
            "repeat_interval_weeks": number(data["repeat_interval_weeks"]),
            "time": data["time"],  # HH:MM or HH:MM:SS, read by the service like every interface
            "from_date": (data["from_date"] or None) if window == "absolute" else None,
            "rolling_window_months": number(data["rolling_window_months"]) if window == "months" else None,
            "rolling_window_days": number(data["rolling_window_days"]) if window == "days" else None,
            "schema_version": number(data["schema_version"]) if data["schema_version"] else None,
            "mode": data["mode"] or None,
            "file_format": data["file_format"] or None,
        }
