"""A statistician's own API token: create (or replace), see when it was created, revoke.

The key is shown once, in the answer to the POST that created it; the page shows only the
creation date afterwards. Each change is audited against the user, never with the key."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from cohorts.audit import audit_record
from cohorts.roles import COORDINATOR, STATISTICIAN, has_role

TOKEN_ROLES = (STATISTICIAN, COORDINATOR)


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser) -> Token:
    """A new token for `user`, replacing (and so revoking) any token they held."""
    replaced = Token.objects.filter(user=user).delete()[0] > 0
    token = Token.objects.create(user=user)
    audit_record(
        actor=user,
        action="api_token.create",
        target=user,
        new={"created": token.created.isoformat(), "replaced": replaced},
    )
    return token


@transaction.atomic
def api_token_revoke(*, user: AbstractBaseUser) -> bool:
    """Delete the user's token; False when they held none."""
    token = Token.objects.filter(user=user).first()
    if token is None:
        return False
    created = token.created.isoformat()
    token.delete()
    audit_record(actor=user, action="api_token.revoke", target=user, old={"created": created})
    return True


@login_required
@require_http_methods(["GET", "POST"])
def api_token_page(request: HttpRequest) -> HttpResponse:
    if not has_role(request.user, *TOKEN_ROLES):
        raise PermissionDenied
    new_key = ""
    message = ""
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            revoked = api_token_revoke(user=request.user)
            message = "Your token is revoked." if revoked else "You hold no token."
        else:
            new_key = api_token_create(user=request.user).key
    token = Token.objects.filter(user=request.user).only("created").first()
    return render(
        request,
        "api_token.html",
        {"token": token, "new_key": new_key, "message": message},
    )
