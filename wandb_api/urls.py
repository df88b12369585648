from django.urls import path

from wandb_api import views

app_name = "wandb_api"

# The paths the SDK builds from WANDB_BASE_URL; `graphql`, `files` and `sdk` are reserved entity names.
urlpatterns = [
    path("graphql", views.graphql, name="graphql"),
    path("files/<str:entity>/<str:project>/<str:run_id>/file_stream", views.file_stream, name="file_stream"),
    path("files/upload/<str:token>", views.upload, name="upload"),
    path("files/download/<str:token>", views.download, name="download"),
    path("sdk/otel/v1/<str:kind>", views.telemetry, name="telemetry"),
]
