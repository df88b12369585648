"""The results as one Markdown table (printed and written to bench/results/)."""

from typing import Any

MiB = 1024 * 1024


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f} ms"


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value / MiB:,.0f} MiB/s"


def mib(value: float | None) -> str:
    return "—" if value is None else f"{value / MiB:,.1f} MiB"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


class Table:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.unmet: list[str] = []

    def add(
        self,
        figure: str,
        ours: str,
        baseline_name: str,
        baseline: str,
        r: float | None,
        target: str = "",
        met: bool | None = None,
    ) -> None:
        verdict = "" if not target else ("n/a" if met is None else ("yes" if met else "**no**"))
        if target and met is False:
            self.unmet.append(figure)
        self.rows.append([figure, ours, baseline_name, baseline, "—" if r is None else f"{r:.2f}x", target, verdict])

    def markdown(self) -> str:
        head = ["Figure", "Ours (median / p95)", "Baseline", "Baseline (median / p95)", "Ratio", "Target", "Met?"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def _pair(s: dict[str, float] | None) -> str:
    return "—" if not s else f"{ms(s['median'])} / {ms(s['p95'])}"


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    sizes = m["sizes"]
    mlflow = r.get("mlflow") or {}
    t = Table()

    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        b = r.get(backend)
        if not b or "pages_large" not in b:
            continue
        for page, base in b["pages_base"].items():
            large = b["pages_large"][page]
            q = ratio(large["median"], base["median"])
            t.add(
                f"{page} at {sizes['large']:,} vs {sizes['base']:,} ({label})",
                _pair(large),
                f"same page at {sizes['base']:,}",
                _pair(base),
                q,
                "<= 1.2x",
                q is not None and q <= 1.2,
            )
    lst = (r.get("sqlite") or {}).get("pages_list", {}).get("registry list")
    if lst:
        peer = mlflow.get("list")
        t.add(
            f"registry list first page at {sizes['list']:,} models (SQLite)",
            _pair(lst),
            "MLflow registered-models/search max_results=50" if peer else "MLflow (run make bench-peer)",
            _pair(peer),
            ratio(lst["median"], peer["median"]) if peer else None,
        )
    stub_api = r.get("stub_api")
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        api = (r.get(backend) or {}).get("api")
        if not api:
            continue
        t.add(
            f"LinkArtifact, one new registry version ({label})",
            _pair(api),
            "zero-work stub",
            _pair(stub_api),
            ratio(api["median"], stub_api["median"]) if stub_api else None,
        )
        peer = mlflow.get("api")
        q = ratio(api["median"], peer["median"]) if peer else None
        t.add(
            f"LinkArtifact vs MLflow model-versions/create ({label})",
            ms(api["median"]),
            "MLflow model-versions/create (SQLite)" if peer else "MLflow (run make bench-peer)",
            _pair(peer),
            q,
            "<= 0.6x",
            None if q is None else q <= 0.6,
        )
        if api.get("errors"):
            r["errors"].append(f"{label}: {api['errors']} LinkArtifact requests failed")
    f, fs = (r.get("sqlite") or {}).get("flow"), (r.get("sqlite") or {}).get("flow_stub")
    if f and fs:
        n = len(f["steps"])
        added = f["median"] - fs["median"]
        t.add(
            f"SDK warm log-and-link flow, {n} requests (SQLite): added cost over the stub",
            ms(added),
            "zero-work stub, same requests",
            _pair(fs),
            ratio(f["median"], fs["median"]),
            "<= 30 ms",
            added <= 0.030,
        )
        t.add("  the same flow, whole", _pair(f), "", "", None)
    tr = (r.get("sqlite") or {}).get("transfer")
    by = r.get("bytes")
    if tr and by:
        size = mib(by["size"])
        q = ratio(tr["upload_rate"], by["md5"])
        t.add(
            f"upload {size} through the signed URL",
            rate(tr["upload_rate"]),
            "hashlib MD5",
            rate(by["md5"]),
            q,
            ">= 0.8x",
            q >= 0.8,
        )
        t.add(
            "  same upload",
            rate(tr["upload_rate"]),
            "hashlib SHA-256",
            rate(by["sha256"]),
            ratio(tr["upload_rate"], by["sha256"]),
        )
        t.add(
            "  same upload",
            rate(tr["upload_rate"]),
            "dd bs=1M (copy to the data disk)",
            rate(by["dd"]),
            ratio(tr["upload_rate"], by["dd"]),
        )
        if mlflow.get("transfer"):
            t.add(
                "  same upload",
                rate(tr["upload_rate"]),
                "MLflow mlflow-artifacts PUT",
                rate(mlflow["transfer"]["upload_rate"]),
                ratio(tr["upload_rate"], mlflow["transfer"]["upload_rate"]),
            )
        t.add(
            f"download {size} through the signed URL",
            rate(tr["download_rate"]),
            "dd bs=1M",
            rate(by["dd"]),
            ratio(tr["download_rate"], by["dd"]),
        )
        if mlflow.get("transfer"):
            t.add(
                "  same download",
                rate(tr["download_rate"]),
                "MLflow mlflow-artifacts GET",
                rate(mlflow["transfer"]["download_rate"]),
                ratio(tr["download_rate"], mlflow["transfer"]["download_rate"]),
            )
        peer_rss = mlflow.get("transfer", {})
        t.add(
            "worker RSS growth during the upload",
            mib(tr["upload_rss"]),
            "MLflow, same upload" if peer_rss else "",
            mib(peer_rss.get("upload_rss")),
            None,
            "<= 16 MiB",
            tr["upload_rss"] <= 16 * MiB,
        )
        t.add(
            "worker RSS growth during the download",
            mib(tr["download_rss"]),
            "MLflow, same download" if peer_rss else "",
            mib(peer_rss.get("download_rss")),
            None,
            "<= 16 MiB",
            tr["download_rss"] <= 16 * MiB,
        )
    peer_c = mlflow.get("concurrent")
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        c = (r.get(backend) or {}).get("concurrent")
        if not c:
            continue
        t.add(
            f"16x10 concurrent links into one model ({label}): all 160 gapless v0..v159",
            f"{c['count']} links, {'gapless' if c['gapless'] else 'GAPS'}, "
            f"latest {'ok' if c['latest_ok'] else 'WRONG'}",
            "MLflow versions 1..160" if peer_c else "",
            (f"{peer_c['count']} versions, {'gapless' if peer_c['gapless'] else 'GAPS'}" if peer_c else ""),
            None,
            "gapless",
            c["gapless"] and c["latest_ok"] and not c["failures"],
        )
        q = ratio(c["throughput"], peer_c["throughput"]) if peer_c else None
        t.add(
            f"  throughput ({label})",
            f"{c['throughput']:.1f} links/s",
            "MLflow 16x10 model-versions/create (SQLite)" if peer_c else "MLflow (run make bench-peer)",
            f"{peer_c['throughput']:.1f} /s" if peer_c else "—",
            q,
            ">= 1x",
            None if q is None else q >= 1,
        )
        q = ratio(c["p95"], peer_c["p95"]) if peer_c else None
        t.add(
            f"  latency ({label})",
            _pair(c),
            "MLflow, same" if peer_c else "MLflow (run make bench-peer)",
            _pair(peer_c),
            q,
            "p95 <= 0.7x",
            None if q is None else q <= 0.7,
        )
    idle = (r.get("sqlite") or {}).get("idle")
    if idle:
        peer_i = mlflow.get("idle")
        t.add(
            f"idle server tree RSS, {idle['procs']} processes (PSS {mib(idle['pss'])})",
            mib(idle["rss"]),
            f"MLflow server tree, {peer_i['procs']} processes" if peer_i else "",
            mib(peer_i["rss"]) if peer_i else "—",
            ratio(idle["rss"], peer_i["rss"]) if peer_i else None,
            "<= 200 MiB",
            idle["rss"] <= 200 * MiB,
        )

    out = [f"# Benchmark, {m['date']}", ""]
    out.append(
        f"Machine: {m['cores']} cores ({m['cpu']}), {mib(m['memory'])} RAM, Python {m['python']}, {m['platform']}. "
        f"Scale `{m['scale']}`: {sizes['base']:,} vs {sizes['large']:,} registered models (about 10 links each; "
        f"the model card's model links all {sizes['large']:,} versions of the artifact the browser shows), "
        f"a {mib(r['bytes']['size']) if r.get('bytes') else '?'} file, {sizes['pages']} requests per page figure."
        + (
            " With MLflow " + mlflow.get("version", "") + " (bench-peer)."
            if mlflow
            else " Without MLflow (make bench-peer)."
        )
    )
    if "load_at_start" in m:
        load = [f"{x:.1f}" for x in (*m["load_at_start"][:1], *m.get("load_at_end", [None])[:1]) if x is not None]
        out.append(
            f"Load average at the start / end: {' / '.join(load)} (above 0.5 at the start, something else was "
            "running: figures are noisier)."
        )
    out += ["", t.markdown(), ""]
    out.append("Unmet targets: " + ("; ".join(t.unmet) if t.unmet else "none") + ".")
    flow_info = r.get("recording")
    if f:
        out += ["", "The flow's requests (median per request, ours):", ""]
        out += [f"- {s['request']}: {ms(s['median'])} (p95 {ms(s['p95'])})" for s in f["steps"]]
    if flow_info:
        out.append(f"- plus {flow_info['background']} background requests (file_stream, telemetry) during the flow")
    sizes_seen = []
    for backend in ("sqlite", "postgresql"):
        b = r.get(backend) or {}
        for key, n in (("pages_base", sizes["base"]), ("pages_large", sizes["large"])):
            for page, s in (b.get(key) or {}).items():
                sizes_seen.append(f"{page} at {n:,} ({backend}) {s['bytes'] / 1024:,.0f} KiB")
    if sizes_seen:
        out += ["", "Page sizes: " + "; ".join(sizes_seen) + "."]
    if r.get("data"):
        out += [
            "",
            "Data made: "
            + "; ".join(
                f"{d['backend']} {d['size']:,}: {d['registered_models']:,} models, {d['links']:,} links, "
                f"{d['versions']:,} versions in {d['s']:.0f} s"
                for d in r["data"]
            )
            + ".",
        ]
    for note in r.get("notes", []):
        out.append(f"\nNote: {note}")
    if r.get("errors"):
        out += ["", "Errors seen:", ""] + [f"- {e}" for e in r["errors"]]
    return "\n".join(out) + "\n"
