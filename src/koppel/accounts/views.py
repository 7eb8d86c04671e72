"""Sign-up: open to anyone while ``KOPPEL_SIGNUP_OPEN`` is on; otherwise by the operator's invitation only."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from .forms import SignupForm
from .models import Invitation


def signup(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("invitation", "") or request.POST.get("invitation", "")
    invitation = Invitation.valid(code)
    if invitation is None and not settings.SIGNUP_OPEN:
        status = 404 if not code else 410
        return render(request, "accounts/signup_closed.html", {"had_code": bool(code)}, status=status)
    form = SignupForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to Koppel. Connect your shop and your invoicing software."))
        return redirect("dashboard:connect")
    return render(request, "accounts/signup.html", {"form": form, "invitation": code if invitation else ""})
