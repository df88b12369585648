from django.urls import path
from django.views.generic import RedirectView

from artifacts.urls import VERSION
from registry import views

app_name = "registry"

MODEL = "registry/model/<entity:entity>/<name:name>"
LINK = f"{MODEL}/v<int:index>"

# W&B's `/registry` is its Registry app; here that is the Model Registry.
to_model_list = RedirectView.as_view(pattern_name="registry:model_list", query_string=True)

urlpatterns = [
    path("registry", to_model_list, name="registry_root"),
    path("registry/", to_model_list),
    # W&B's team-scoped form of the legacy deep links: `/<entity>/registry/model?selectionPath=...`.
    path("<entity:entity>/registry/model", views.wandb_model_list, name="wandb_model_list"),
    path("registry/model", views.model_list, name="model_list"),
    path("registry/model/new", views.model_create, name="model_create"),
    path(MODEL, views.model_detail, name="model_detail"),
    path(f"{MODEL}/link", views.link_new_version, name="link_new_version"),
    path(f"{MODEL}/card", views.model_card_update, name="model_card_update"),
    path(f"{MODEL}/tags", views.model_tag_add, name="model_tag_add"),
    path(f"{MODEL}/tags/<name:tag>/delete", views.model_tag_remove, name="model_tag_remove"),
    path(f"{MODEL}/delete", views.model_delete, name="model_delete"),
    path(LINK, views.link_detail, name="link_detail"),
    path(f"{LINK}/aliases", views.link_alias_add, name="link_alias_add"),
    path(f"{LINK}/aliases/<name:alias>/delete", views.link_alias_remove, name="link_alias_remove"),
    path(f"{LINK}/<slug:tab>", views.link_detail, name="link_tab"),
    # From the Artifact browser: a version's Link to registry dialog.
    path(f"{VERSION}/link", views.link_to_registry, name="link_to_registry"),
]
