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
    """Input of the schedule; ``exports.schedules.schedule_set`` validates it (same messages as the API)."""

    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)
    days = forms.MultipleChoiceField(
        label="Days", choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    repeat_interval_weeks = forms.CharField(label="Repeat every (weeks)", initial="1", help_text="1 to 52.")
    time = forms.CharField(label="Time", initial="02:00:00", help_text="HH:MM:SS (or HH:MM) in the server time zone.")
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schema_version"].widget.choices = [("", "The default version"), *schema_choices()]

    def service_arguments(self) -> dict:
        """The keyword arguments of ``schedule_set``: whole numbers as ints, anything else as typed."""
        data = self.cleaned_data
        window = data["window"]
        time_text = data["time"].strip()
        if len(time_text) == 5 and time_text[2] == ":":
            time_text += ":00"
        return {
            "enabled": data["enabled"],
            "days": data["days"],
            "repeat_interval_weeks": as_int(data["repeat_interval_weeks"]),
            "time": time_text,
            "from_date": (data["from_date"] or None) if window == "absolute" else None,
            "rolling_window_months": as_int(data["rolling_window_months"]) if window == "months" else None,
            "rolling_window_days": as_int(data["rolling_window_days"]) if window == "days" else None,
            "schema_version": as_int(data["schema_version"]) if data["schema_version"] else None,
        }


def as_int(value: str) -> int | str | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return text  # the service names the field and the bad value
