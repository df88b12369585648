from django.urls import path, register_converter

from artifacts import converters, views

register_converter(converters.EntityNameConverter, "entity")
register_converter(converters.NameConverter, "name")
register_converter(converters.RunIdConverter, "run_id")

app_name = "artifacts"

PROJECT = "<entity:entity>/<name:project>"
ARTIFACT = f"{PROJECT}/artifacts/<name:type>/<name:name>"
VERSION = f"{ARTIFACT}/v<int:index>"

urlpatterns = [
    path("<entity:entity>", views.entity_detail, name="entity_detail"),
    path(PROJECT, views.project_detail, name="project_detail"),
    path(f"{PROJECT}/runs", views.run_list, name="run_list"),
    path(f"{PROJECT}/runs/<run_id:run_id>", views.run_detail, name="run_detail"),
    path(f"{PROJECT}/artifacts", views.artifact_browse, name="artifact_browse"),
    path(ARTIFACT, views.artifact_detail, name="artifact_detail"),
    # Before the alias routes: `.../compare` is the compare picker, never an alias named `compare`.
    path(f"{ARTIFACT}/compare", views.artifact_compare_pick, name="artifact_compare_pick"),
    path(f"{ARTIFACT}/compare/v<int:old>...v<int:new>", views.artifact_compare, name="artifact_compare"),
    path(VERSION, views.version_detail, name="version_detail"),
    path(f"{VERSION}/aliases", views.version_alias_add, name="version_alias_add"),
    path(f"{VERSION}/aliases/<name:alias>/delete", views.version_alias_remove, name="version_alias_remove"),
    path(f"{VERSION}/description", views.version_description, name="version_description"),
    path(f"{VERSION}/files/<path:path>", views.version_file_download, name="version_file_download"),
    path(f"{VERSION}/delete", views.version_delete, name="version_delete"),
    path(f"{VERSION}/<slug:tab>", views.version_detail, name="version_tab"),
    # After every `v<N>` route: an alias is never `v<N>`-shaped (names.validate_alias).
    path(f"{ARTIFACT}/<name:alias>", views.version_by_alias, name="version_by_alias"),
    path(f"{ARTIFACT}/<name:alias>/<slug:tab>", views.version_by_alias, name="version_by_alias_tab"),
]
