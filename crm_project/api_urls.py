"""The REST API: schema, interactive docs (Swagger UI from vendored assets) and /api/v1/.

Each app's api/urls.py is included under v1/ as it arrives.
"""

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Staff sign in to read the docs; API clients fetch the schema with their key.
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("v1/", include("accounts.api.urls")),
    path("v1/", include("customers.api.urls")),
    path("v1/", include("segmentation.api.urls")),
    path("v1/", include("service.api.urls")),
    path("v1/", include("complaints.api.urls")),
    path("v1/", include("evaluation.api.urls")),
    path("v1/", include("lifecycle.api.urls")),
    path("v1/", include("training.api.urls")),
    path("v1/", include("improvement.api.urls")),
]
