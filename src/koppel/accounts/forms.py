"""Forms of the accounts app: sign-up (open, or by invitation) and the Profile tab's company details."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum import iban as iban_numbers
from stdnum.eu import vat as eu_vat

from .models import Account, Invitation

SHOP_COUNTRIES = [("NL", _("Netherlands")), ("BE", _("Belgium"))]


class SignupForm(forms.Form):
    """A new merchant: name, e-mail, shop country, the terms; makes an account and its first login."""

    company = forms.CharField(label=_("Company or shop name"), max_length=200)
    name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("E-mail"), help_text=_("You log in with this address."))
    shop_country = forms.ChoiceField(label=_("Your shop sells from"), choices=SHOP_COUNTRIES)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    terms = forms.BooleanField(
        label=_("I accept the terms of use"),
        error_messages={"required": _("Accept the terms to create an account.")},
    )

    def __init__(self, *args: Any, invitation: Invitation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        if invitation is not None:
            self.fields["email"].initial = invitation.email
            self.fields["email"].disabled = True
            if invitation.account is not None:
                for name in ("company", "shop_country"):
                    del self.fields[name]

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if get_user_model().objects.filter(username__iexact=email).exists():
            raise forms.ValidationError(_("There is already a login with this e-mail address."))
        return email

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("email"):
            user = get_user_model()(username=data["email"], email=data["email"], first_name=data.get("name"))
            try:
                password_validation.validate_password(data["password"], user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data

    @transaction.atomic
    def save(self) -> Any:
        data = self.cleaned_data
        user = get_user_model().objects.create_user(
            username=data["email"], email=data["email"], password=data["password"], first_name=data["name"]
        )
        account = self.invitation.account if self.invitation else None
        if account is None:
            account = Account.objects.create(
                name=data["company"],
                company_name=data["company"],
                shop_country=data["shop_country"],
                email=data["email"],
                terms_accepted_at=timezone.now(),
            )
        account.members.add(user)
        if self.invitation is not None:
            Invitation.objects.filter(pk=self.invitation.pk).update(accepted_at=timezone.now())
        return user


class ProfileForm(forms.ModelForm):
    """The Profile tab: the merchant's company details (used on e-invoices) and notification address."""

    class Meta:
        model = Account
        fields = [
            "company_name",
            "street",
            "postal_code",
            "city",
            "country",
            "shop_country",
            "vat_number",
            "company_number",
            "iban",
            "email",
            "notification_email",
        ]
        widgets = {"shop_country": forms.Select(choices=SHOP_COUNTRIES)}

    def clean_vat_number(self) -> str:
        value = self.cleaned_data["vat_number"].strip()
        if not value:
            return ""
        if not eu_vat.is_valid(value):
            raise forms.ValidationError(_("This is not a valid EU VAT number (e.g. NL123456789B01)."))
        return eu_vat.compact(value)

    def clean_iban(self) -> str:
        value = self.cleaned_data["iban"].strip()
        if not value:
            return ""
        if not iban_numbers.is_valid(value):
            raise forms.ValidationError(_("This is not a valid IBAN."))
        return iban_numbers.compact(value)

    def clean_country(self) -> str:
        return self.cleaned_data["country"].strip().upper()
