from django.urls import path

from wandb_api import views

app_name = "wandb_api"

# The paths the SDK builds from WANDB_BASE_URL; `graphql`, `files`, `sdk` and `artifactsV2` are reserved
# entity names.
FILE_V2 = "artifactsV2/<str:region>/<str:entity>/<str:project>/<str:collection>"
urlpatterns = [
    path("graphql", views.graphql, name="graphql"),
    path("files/<str:entity>/<str:project>/<str:run_id>/file_stream", views.file_stream, name="file_stream"),
    path("files/upload/<str:token>", views.upload, name="upload"),
    path("files/download/<str:token>", views.download, name="download"),
    path("files/download/<str:token>/<path:name>", views.download, name="download_named"),
    path("sdk/otel/v1/<str:kind>", views.telemetry, name="telemetry"),
    # A single file of a version, by its birth version's id (and the version's own, in the longer form).
    path(f"{FILE_V2}/<str:birth_id>/<str:md5_hex>/<str:name>", views.artifact_file, name="artifact_file"),
    path(
        f"{FILE_V2}/<str:artifact_id>/<str:birth_id>/<str:md5_hex>/<str:name>",
        views.artifact_file,
        name="artifact_file_of_version",
    ),
]
