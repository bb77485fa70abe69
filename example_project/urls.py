"""URLs of the example host project."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from example_project.views import receive_hook

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("hooks/<slug:name>/", receive_hook, name="hook"),
]
