"""Forms of the dashboard."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BackfillForm(forms.Form):
    """A range of days whose orders to book: from ``since`` up to and including ``until``."""

    since = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label=_("Up to and including"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            raise forms.ValidationError(_("The last day must not be before the first."))
        if since and since > timezone.localdate():
            raise forms.ValidationError(_("The first day is in the future."))
        for day in (since, until):
            if day and not date(2000, 1, 1) <= day < date(2100, 1, 1):
                raise forms.ValidationError(_("Choose days between the years 2000 and 2099."))
        return data

    def range(self) -> tuple[datetime, datetime | None]:
        """``[since, until)`` as moments in Koppel's time zone (``until`` is the day after the last)."""
        since: date = self.cleaned_data["since"]
        until: date | None = self.cleaned_data.get("until")
        start = timezone.make_aware(datetime.combine(since, time()))
        end = timezone.make_aware(datetime.combine(until + timedelta(days=1), time())) if until else None
        return start, end
