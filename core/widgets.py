"""Form widgets shared by every app.

`<input type="date">` and `type="datetime-local"` accept only ISO values (yyyy-MM-dd); a value in the
locale's display format (zh-hans renders 2026/12/05) leaves the browser's field blank. These widgets
always render ISO, whatever the language.
"""

from django import forms

ISO_DATE_FORMAT = "%Y-%m-%d"
ISO_DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class IsoDateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=ISO_DATE_FORMAT)


class IsoDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format=ISO_DATETIME_FORMAT)
