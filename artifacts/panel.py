"""The version panel (tabs Version | Metadata | Usage | Files | Lineage), built once and used by the
Artifact browser and the Model Registry alike. Callers say what differs (full name, aliases and their URLs,
the registry link or the links to the registry); the panel computes only the open tab's data."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import Http404

from artifacts import jsonvalues, lineage, queries
from artifacts.models import ArtifactVersion
from artifacts.permissions import User

TABS = [
    ("version", "Version"),
    ("metadata", "Metadata"),
    ("usage", "Usage"),
    ("files", "Files"),
    ("lineage", "Lineage"),
]
TAB_NAMES = [t for t, _ in TABS]
# A version panel lists this many of its newest events.
EVENTS_SHOWN = queries.VERSION_EVENTS
# W&B's names for tabs we call otherwise: its URLs end in `/overview` where ours end in `/version`.
WANDB_TAB_NAMES = {"overview": "version"}


def wandb_tab(tab: str) -> str | None:
    """Our name for a tab named the W&B way, when the two differ."""
    return WANDB_TAB_NAMES.get(tab)


@dataclass
class AliasChip:
    name: str
    protected: bool = False
    remove_url: str | None = None  # None: the user may not remove it (or it is `latest`)


@dataclass
class Panel:
    """What the caller decides; `build_panel` adds the tab's data."""

    version: ArtifactVersion
    tab: str
    full_name: str
    tab_url: Callable[[str], str]
    aliases: list[AliasChip]
    alias_add_url: str | None = None
    usage_name: str = ""
    registry_link: object | None = None  # set in the registry: its Source Version row replaces Linked To
    links: list = field(default_factory=list)  # set in the artifact browser: the Linked To rows
    link_to_registry_url: str | None = None
    delete_url: str | None = None  # the artifact browser's Delete (in the ⋯ menu)
    unlink_url: str | None = None  # the registry's Unlink version (in the ⋯ menu)
    description_url: str | None = None
    can_change: bool = False
    depth: int = lineage.DEFAULT_DEPTH  # the Lineage tab's hops each way
    # The Version tab's events: the newest EVENTS_SHOWN and one more when there are more; the full history's URL.
    events: Callable[[], list] | None = None
    history_url: str | None = None


def build_panel(user: User, panel: Panel, site_url: str) -> dict:
    if panel.tab not in TAB_NAMES:
        raise Http404("No such tab.")
    v = panel.version
    ctx = {
        "panel": panel,
        "tabs": [(name, label, panel.tab_url(name)) for name, label in TABS],
        "version_tab_url": panel.tab_url("version"),
        "site_url": site_url,
    }
    if panel.tab == "version":
        ctx["num_consumers"] = queries.num_consumers(user, v)
        events = panel.events() if panel.events is not None else []
        ctx["events"], ctx["more_events"] = events[:EVENTS_SHOWN], len(events) > EVENTS_SHOWN
    elif panel.tab == "metadata":
        ctx["metadata_rows"] = metadata_rows(v.metadata)
    elif panel.tab == "usage":
        ctx["consumers"] = queries.consumers_of(user, v)
        ctx["usage"] = usage_snippets(panel, site_url)
    elif panel.tab == "files":
        ctx["tree"] = file_tree(list(queries.version_files(v)))
        ctx["references"] = list(v.references.all())
    elif panel.tab == "lineage":
        ctx["graph"] = lineage_graph(user, panel)
    return ctx


# Folded rows nest this deep at most; deeper values are shown as their JSON text, so no stored value can make
# the template engine recurse without bound.
METADATA_FOLD_DEPTH = 6


def metadata_rows(data: object, depth: int = 0) -> list[dict]:
    """Key/value rows; nested dicts and lists carry their own rows, to fold (up to METADATA_FOLD_DEPTH)."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    rows = []
    for key, value in items:
        nested = isinstance(value, dict | list)
        if nested and depth + 1 >= METADATA_FOLD_DEPTH:
            rows.append({"key": key, "value": jsonvalues.as_text(value), "children": None, "summary": ""})
            continue
        rows.append(
            {
                "key": key,
                "value": value,
                "children": metadata_rows(value, depth + 1) if nested else None,
                "summary": f"{len(value)} {'keys' if isinstance(value, dict) else 'items'}" if nested else "",
            }
        )
    return rows


def usage_snippets(panel: Panel, site_url: str) -> dict:
    v = panel.version
    a = v.artifact
    name = panel.usage_name or v.full_name
    entity, project = a.project.entity.name, a.project.name
    use = (
        f'model_path = run.use_model("{name}")'
        if panel.registry_link is not None
        else f'artifact = run.use_artifact("{name}", type="{a.type}")\nartifact_dir = artifact.download()'
    )
    return {
        "env": f"export WANDB_BASE_URL={site_url}\nexport WANDB_API_KEY=<your API key>",
        "run": f'import wandb\n\nrun = wandb.init(entity="{entity}", project="{project}")\n{use}',
        "api": f'import wandb\n\nartifact = wandb.Api().artifact("{name}")\npath = artifact.download()',
    }


def file_tree(files: list) -> list[dict]:
    """Nested folders (first) and files, from flat paths."""
    root: dict = {"dirs": {}, "files": []}
    for f in files:
        node = root
        parts = f.path.split("/")
        for i, part in enumerate(parts[:-1]):
            node = node["dirs"].setdefault(part, {"dirs": {}, "files": [], "path": "/".join(parts[: i + 1])})
        node["files"].append({"name": parts[-1], "file": f, "url": f.version.file_url(f.path)})

    def render(node: dict) -> list[dict]:
        out = [
            {"name": name, "path": child["path"], "children": render(child)}
            for name, child in sorted(node["dirs"].items())
        ]
        return out + sorted(node["files"], key=lambda x: x["name"])

    return render(root)


def lineage_graph(user: User, panel: Panel) -> dict:
    links = [panel.registry_link] if panel.registry_link is not None else panel.links
    graph = lineage.build(user, panel.version, links, panel.depth)
    graph["depth"] = panel.depth
    base = panel.tab_url("lineage")
    graph["depths"] = [(d, base if d == lineage.DEFAULT_DEPTH else f"{base}?depth={d}") for d in lineage.DEPTHS]
    return graph
