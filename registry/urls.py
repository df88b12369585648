from django.urls import path
from django.views.generic import RedirectView

from artifacts.urls import VERSION
from registry import views

app_name = "registry"

MODEL = "registry/model/<entity:entity>/<name:name>"
LINK = f"{MODEL}/v<int:index>"

TEAM = "registry/settings/<entity:entity>"

# W&B's current Registry: an organization's registries (`entity` is the organization's name, which its own entity
# bears) and their collections.
REGISTRY = "orgs/<entity:entity>/registry/<name:registry>"
COLLECTION = f"{REGISTRY}/c/<name:name>"
COLLECTION_LINK = f"{COLLECTION}/v<int:index>"

# A portfolio: what W&B's `link_artifact` makes in an ordinary project of a team (`entity/project/name`).
PORTFOLIO = "<entity:entity>/<name:project>/portfolios/<name:name>"
PORTFOLIO_LINK = f"{PORTFOLIO}/v<int:index>"

urlpatterns = [
    # W&B's Registry app: the organizations' registries (the legacy Model Registry is /registry/model).
    path("registry", views.registry_home, name="registry_home"),
    path("registry/", RedirectView.as_view(pattern_name="registry:registry_home", query_string=True)),
    path("registry/new", views.registry_create, name="registry_create"),
    path(REGISTRY, views.registry_detail, name="registry_detail"),
    path(f"{REGISTRY}/collections/new", views.collection_create, name="collection_create"),
    path(f"{REGISTRY}/settings", views.registry_settings, name="registry_settings"),
    path(f"{REGISTRY}/settings/members", views.registry_member_add, name="registry_member_add"),
    path(f"{REGISTRY}/settings/members/<str:username>/role", views.registry_member_role, name="registry_member_role"),
    path(
        f"{REGISTRY}/settings/members/<str:username>/remove",
        views.registry_member_remove,
        name="registry_member_remove",
    ),
    path(f"{REGISTRY}/settings/teams", views.registry_team_add, name="registry_team_add"),
    path(f"{REGISTRY}/settings/teams/<entity:team>/role", views.registry_team_role, name="registry_team_role"),
    path(f"{REGISTRY}/settings/teams/<entity:team>/remove", views.registry_team_remove, name="registry_team_remove"),
    path(
        f"{REGISTRY}/settings/protected-aliases",
        views.registry_protected_alias_add,
        name="registry_protected_alias_add",
    ),
    path(
        f"{REGISTRY}/settings/protected-aliases/<name:alias>/delete",
        views.registry_protected_alias_remove,
        name="registry_protected_alias_remove",
    ),
    # A registry's automations and webhooks (listed in its settings): its admins only.
    path(f"{REGISTRY}/settings/webhooks/new", views.webhook_create, name="registry_webhook_create"),
    path(f"{REGISTRY}/settings/webhooks/<int:pk>/delete", views.webhook_delete, name="registry_webhook_delete"),
    path(f"{REGISTRY}/automations", views.automation_list, name="registry_automation_list"),
    path(f"{REGISTRY}/automations/new", views.automation_create, name="registry_automation_create"),
    path(f"{REGISTRY}/automations/<int:pk>", views.automation_detail, name="registry_automation_detail"),
    path(f"{REGISTRY}/automations/<int:pk>/test", views.automation_test, name="registry_automation_test"),
    path(f"{REGISTRY}/automations/<int:pk>/enable", views.automation_enable, name="registry_automation_enable"),
    path(f"{REGISTRY}/automations/<int:pk>/delete", views.automation_delete, name="registry_automation_delete"),
    # W&B's team-scoped form of the legacy deep links: `/<entity>/registry/model?selectionPath=...`.
    path("<entity:entity>/registry/model", views.wandb_model_list, name="wandb_model_list"),
    # The registry's gear: team settings (members, roles, protected aliases). Not under registry/model/, where
    # two segments name a registered model.
    path("registry/settings", views.team_list, name="team_list"),
    path(TEAM, views.team_detail, name="team_detail"),
    path(f"{TEAM}/members", views.team_member_add, name="team_member_add"),
    path(f"{TEAM}/members/<str:username>/role", views.team_member_role, name="team_member_role"),
    path(f"{TEAM}/members/<str:username>/remove", views.team_member_remove, name="team_member_remove"),
    path(f"{TEAM}/protected-aliases", views.team_protected_alias_add, name="team_protected_alias_add"),
    path(
        f"{TEAM}/protected-aliases/<name:alias>/delete",
        views.team_protected_alias_remove,
        name="team_protected_alias_remove",
    ),
    # A team's Model Registry automations, and its webhooks (listed in its settings): team admins only.
    path(f"{TEAM}/webhooks/new", views.webhook_create, name="webhook_create"),
    path(f"{TEAM}/webhooks/<int:pk>/delete", views.webhook_delete, name="webhook_delete"),
    path(f"{TEAM}/automations", views.automation_list, name="automation_list"),
    path(f"{TEAM}/automations/new", views.automation_create, name="automation_create"),
    path(f"{TEAM}/automations/<int:pk>", views.automation_detail, name="automation_detail"),
    path(f"{TEAM}/automations/<int:pk>/test", views.automation_test, name="automation_test"),
    path(f"{TEAM}/automations/<int:pk>/enable", views.automation_enable, name="automation_enable"),
    path(f"{TEAM}/automations/<int:pk>/delete", views.automation_delete, name="automation_delete"),
    path("registry/model", views.model_list, name="model_list"),
    path("registry/model/new", views.model_create, name="model_create"),
    path(MODEL, views.model_detail, name="model_detail"),
    path(f"{MODEL}/link", views.link_new_version, name="link_new_version"),
    path(f"{MODEL}/card", views.model_card_update, name="model_card_update"),
    path(f"{MODEL}/tags", views.model_tag_add, name="model_tag_add"),
    path(f"{MODEL}/tags/<name:tag>/delete", views.model_tag_remove, name="model_tag_remove"),
    path(f"{MODEL}/delete", views.model_delete, name="model_delete"),
    path(f"{MODEL}/compare", views.model_compare_pick, name="model_compare_pick"),
    path(f"{MODEL}/history", views.model_history, name="model_history"),
    path(f"{MODEL}/compare/v<int:old>...v<int:new>", views.model_compare, name="model_compare"),
    path(LINK, views.link_detail, name="link_detail"),
    path(f"{LINK}/aliases", views.link_alias_add, name="link_alias_add"),
    path(f"{LINK}/aliases/<name:alias>/delete", views.link_alias_remove, name="link_alias_remove"),
    path(f"{LINK}/unlink", views.link_unlink, name="link_unlink"),
    path(f"{LINK}/<slug:tab>", views.link_detail, name="link_tab"),
    # A collection of an organization's registry: the registered model's own pages, addressed by registry.
    path(f"{COLLECTION}", views.model_detail, name="collection_model_detail"),
    path(f"{COLLECTION}/link", views.link_new_version, name="collection_link_new_version"),
    path(f"{COLLECTION}/card", views.model_card_update, name="collection_model_card_update"),
    path(f"{COLLECTION}/tags", views.model_tag_add, name="collection_model_tag_add"),
    path(f"{COLLECTION}/tags/<name:tag>/delete", views.model_tag_remove, name="collection_model_tag_remove"),
    path(f"{COLLECTION}/delete", views.model_delete, name="collection_model_delete"),
    path(f"{COLLECTION}/compare", views.model_compare_pick, name="collection_model_compare_pick"),
    path(f"{COLLECTION}/history", views.model_history, name="collection_model_history"),
    path(f"{COLLECTION}/compare/v<int:old>...v<int:new>", views.model_compare, name="collection_model_compare"),
    path(COLLECTION_LINK, views.link_detail, name="collection_link_detail"),
    path(f"{COLLECTION_LINK}/aliases", views.link_alias_add, name="collection_link_alias_add"),
    path(
        f"{COLLECTION_LINK}/aliases/<name:alias>/delete",
        views.link_alias_remove,
        name="collection_link_alias_remove",
    ),
    path(f"{COLLECTION_LINK}/unlink", views.link_unlink, name="collection_link_unlink"),
    path(f"{COLLECTION_LINK}/<slug:tab>", views.link_detail, name="collection_link_tab"),
    # A portfolio of a project: the registered model's own pages again, addressed by project.
    path(f"{PORTFOLIO}", views.model_detail, name="portfolio_model_detail"),
    path(f"{PORTFOLIO}/link", views.link_new_version, name="portfolio_link_new_version"),
    path(f"{PORTFOLIO}/card", views.model_card_update, name="portfolio_model_card_update"),
    path(f"{PORTFOLIO}/tags", views.model_tag_add, name="portfolio_model_tag_add"),
    path(f"{PORTFOLIO}/tags/<name:tag>/delete", views.model_tag_remove, name="portfolio_model_tag_remove"),
    path(f"{PORTFOLIO}/delete", views.model_delete, name="portfolio_model_delete"),
    path(f"{PORTFOLIO}/compare", views.model_compare_pick, name="portfolio_model_compare_pick"),
    path(f"{PORTFOLIO}/history", views.model_history, name="portfolio_model_history"),
    path(f"{PORTFOLIO}/compare/v<int:old>...v<int:new>", views.model_compare, name="portfolio_model_compare"),
    path(PORTFOLIO_LINK, views.link_detail, name="portfolio_link_detail"),
    path(f"{PORTFOLIO_LINK}/aliases", views.link_alias_add, name="portfolio_link_alias_add"),
    path(
        f"{PORTFOLIO_LINK}/aliases/<name:alias>/delete",
        views.link_alias_remove,
        name="portfolio_link_alias_remove",
    ),
    path(f"{PORTFOLIO_LINK}/unlink", views.link_unlink, name="portfolio_link_unlink"),
    path(f"{PORTFOLIO_LINK}/<slug:tab>", views.link_detail, name="portfolio_link_tab"),
    # From the Artifact browser: a version's Link to registry dialog.
    path(f"{VERSION}/link", views.link_to_registry, name="link_to_registry"),
]
