"""Template context: which roles the signed-in user holds (for navigation only)."""

from django.http import HttpRequest

from cohorts.roles import user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    held = user_roles(user) if user is not None and user.is_authenticated else frozenset()
    return {"user_roles": held}
