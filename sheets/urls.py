"""The coordinator's score-sheet upload page; include at "imports/" in the root URLconf."""

from django.urls import path

from sheets import views as import_views

app_name = "imports"

urlpatterns = [
    path(
        "<slug:slug>/score-sheet/",
        import_views.score_sheet_import_page,
        name="score-sheet",
    ),
]
