"""Project-level pages: the role-aware landing page."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cohorts.roles import user_roles


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on the entry points of its own work, and sees nothing of the others'."""
    return render(request, "home.html", {"roles": user_roles(request.user)})
