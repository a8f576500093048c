"""The site's URLs plus the score-sheet upload page, wherever the root URLconf puts it."""

from django.urls import include, path

from iim_scoring.urls import urlpatterns as site_urlpatterns

_wired = any(getattr(p, "namespace", None) == "imports" for p in site_urlpatterns)
urlpatterns = [
    *site_urlpatterns,
    *([] if _wired else [path("imports/", include("sheets.urls"))]),
]
