"""The Lineage tab: runs and versions around one version, laid out in columns by their distance from it.

Upstream (left): the run that logged the version, the versions that run used, the runs that logged those, ...
Downstream (right): the runs that used the version, the versions those runs logged, ... Each hop reads one
layer in one or two queries (artifacts.queries.lineage_*), shows at most LINEAGE_LAYER_CAP nodes and says how
many more there are; only nodes the user may see are shown or counted, and the walk goes on from them only.
"""

from dataclasses import dataclass, field

from artifacts import queries
from artifacts.models import ArtifactVersion, Run
from artifacts.permissions import User

DEFAULT_DEPTH = 2
MAX_DEPTH = 5
DEPTHS = range(1, MAX_DEPTH + 1)
NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 180, 44, 56, 18, 18


def parse_depth(value: str | None) -> int:
    """`?depth=` as a number of hops each way: missing or not a number means the default; kept in 1..5."""
    try:
        depth = int(value or "")
    except ValueError:
        return DEFAULT_DEPTH
    return min(max(depth, 1), MAX_DEPTH)


@dataclass
class Node:
    kind: str  # run | artifact | registry | more
    key: tuple[str, int]
    label: str
    sub: str
    name: str  # the accessible name of its link
    url: str | None
    current: bool = False
    parents: list[int] = field(default_factory=list)  # rows of the nodes it hangs off, to order a column
    x: int = 0
    y: int = 0


def _run_node(run: Run) -> Node:
    label = run.display_name or run.run_id
    project = run.project
    return Node(
        "run",
        ("run", run.pk),
        label,
        f"run {run.run_id}",
        f"Run {label} ({project.entity.name}/{project.name}, run {run.run_id})",
        run.get_absolute_url(),
    )


def _version_node(version: ArtifactVersion, depth: int) -> Node:
    # A version node opens that version's own Lineage tab, so the graph can be followed node by node.
    query = "" if depth == DEFAULT_DEPTH else f"?depth={depth}"
    return Node(
        "artifact",
        ("version", version.pk),
        f"{version.artifact.name}:{version.label}",
        version.artifact.type,
        f"Artifact version {version.full_name} ({version.artifact.type})",
        version.tab_url("lineage") + query,
    )


def _link_node(link: object) -> Node:
    label = f"{link.registered_model.name}:{link.label}"
    name = f"Registry version {label}"
    return Node("registry", ("link", link.pk), label, "model registry", name, link.get_absolute_url())


def _more_node(col: int, count: int, what: str, url: str | None) -> Node:
    label = f"+{count} more {what}"
    return Node("more", ("more", col), label, "", label, url)


def build(user: User, version: ArtifactVersion, links: list, depth: int) -> dict:
    """The graph `depth` hops upstream and downstream of `version`, plus its registry links, laid out."""
    columns: dict[int, list[Node]] = {0: [_version_node(version, depth)]}
    columns[0][0].current = True
    edges: list[tuple[tuple, tuple]] = []
    seen = {"run": set(), "version": {version.pk}}

    def place(col: int, nodes: list[Node], total: int, what: str, more_url: str | None) -> None:
        for node in nodes:
            seen["run" if node.kind == "run" else "version"].add(node.key[1])
        # Nodes sit next to the ones they hang off (stable: the query's order breaks ties).
        nodes.sort(key=lambda n: min(n.parents, default=0))
        if total > len(nodes):
            nodes.append(_more_node(col, total - len(nodes), what, more_url))
        columns.setdefault(col, []).extend(nodes)

    def rows(col: int) -> dict[tuple, int]:
        return {n.key: i for i, n in enumerate(columns[col])}

    # Upstream: versions <- the runs that logged them <- the versions those runs used <- ...
    frontier: list = [version]
    for hop in range(1, depth + 1):
        before = rows(1 - hop)
        if hop % 2:
            runs = queries.lineage_producers(user, frontier, seen["run"])
            shown = {r.pk for r in runs}
            pairs = [(v.created_by_run_id, v.pk) for v in frontier if v.created_by_run_id in shown]
            nodes = {r.pk: _run_node(r) for r in runs}
            new = [(("run", r), ("version", v)) for r, v in pairs]
            found, total, what, more_url = runs, len(runs), "runs", None
        else:
            found, total, pairs = queries.lineage_inputs(user, frontier, seen["version"])
            nodes = {v.pk: _version_node(v, depth) for v in found}
            new = [(("version", v), ("run", r)) for v, r in pairs]
            what, more_url = "versions", frontier[0].get_absolute_url() if len(frontier) == 1 else None
        for left, right in new:
            nodes[left[1]].parents.append(before.get(right, 0))
        edges += new
        if not found:
            break
        place(-hop, list(nodes.values()), total, what, more_url)
        frontier = found

    # Downstream: version -> the runs that used it -> the versions those runs logged -> ...
    frontier = [version]
    for hop in range(1, depth + 1):
        before = rows(hop - 1)
        if hop % 2:
            found, total, pairs = queries.lineage_consumers(user, frontier, seen["run"])
            nodes = {r.pk: _run_node(r) for r in found}
            new = [(("version", v), ("run", r)) for v, r in pairs]
            what = "runs"
            more_url = frontier[0].tab_url("usage") if len(frontier) == 1 else None
        else:
            found, total = queries.lineage_outputs(user, frontier, seen["version"])
            nodes = {v.pk: _version_node(v, depth) for v in found}
            new = [(("run", v.created_by_run_id), ("version", v.pk)) for v in found]
            what = "versions"
            more_url = frontier[0].get_absolute_url() if len(frontier) == 1 else None
        for left, right in new:
            nodes[right[1]].parents.append(before.get(left, 0))
        edges += new
        if not found:
            break
        place(hop, list(nodes.values()), total, what, more_url)
        frontier = found

    center = columns[0][0]
    shown_links = [_link_node(lk) for lk in links[: queries.LINEAGE_LAYER_CAP]]
    if shown_links:
        place(1, shown_links, len(links), "registry versions", None)
        edges += [(center.key, n.key) for n in shown_links]
    return _layout(columns, edges)


def _layout(columns: dict[int, list[Node]], edges: list[tuple[tuple, tuple]]) -> dict:
    first = min(columns)
    tallest = max(len(nodes) for nodes in columns.values())
    height = tallest * (NODE_H + ROW_GAP) + ROW_GAP
    placed = {}
    for col, nodes in columns.items():
        top = (height - len(nodes) * (NODE_H + ROW_GAP) + ROW_GAP) // 2
        for row, node in enumerate(nodes):
            node.x = PAD + (col - first) * (NODE_W + COL_GAP)
            node.y = top + row * (NODE_H + ROW_GAP)
            placed[node.key] = node
    paths = []
    for a, b in edges:
        if a not in placed or b not in placed:
            continue
        start, end = placed[a], placed[b]
        x1, y1 = start.x + NODE_W, start.y + NODE_H // 2
        x2, y2 = end.x, end.y + NODE_H // 2
        mid = (x1 + x2) // 2
        kind = "edge link" if end.kind == "registry" else "edge"
        paths.append({"d": f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}", "kind": kind})
    count = len(columns)
    return {
        "columns": [columns[c] for c in sorted(columns)],
        "nodes": [n for c in sorted(columns) for n in columns[c]],
        "paths": paths,
        "width": PAD * 2 + count * NODE_W + (count - 1) * COL_GAP,
        "height": height,
        "node_w": NODE_W,
        "node_h": NODE_H,
        # Wider than three columns: scroll sideways rather than shrink the text, opening at the center version.
        "wide": count > 3,
        "center_x": columns[0][0].x + NODE_W // 2,
    }
