"""The REST API: the OpenAPI schema now; interactive docs (vendored assets) come with the API issue.

Each app's api/urls.py is included under v1/ as it arrives.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
