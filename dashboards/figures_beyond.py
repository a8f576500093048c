"""Figures for the analyses beyond the paper (plain plotly dicts from stored results)."""

from __future__ import annotations

from typing import Any

from dashboards.figures import LAYOUT, SUBTYPE_COLOURS, SUBTYPE_ORDER, group_names


def asymmetry_bars(asym: dict[str, Any]) -> dict[str, Any] | None:
    """Mean share of asymmetric muscles per subtype (IBM expected highest), with KW p."""
    if asym.get("status") != "ok":
        return None
    by = asym["by_subtype"]
    rows = sorted(
        by["per_subtype"],
        key=lambda r: SUBTYPE_ORDER.index(r["subtype"]) if r["subtype"] in SUBTYPE_ORDER else 99,
    )
    p = by.get("p")
    title = "Share of asymmetric muscles (|L − R| ≥ 1) per subtype"
    if p is not None:
        title += f"<br><sub>Kruskal–Wallis H = {by['h']:.2f}, p = {p:.3g}</sub>"
    return {
        "data": [
            {
                "type": "bar",
                "x": [r["subtype"] for r in rows],
                "y": [r["mean"] for r in rows],
                "marker": {"color": [SUBTYPE_COLOURS.get(r["subtype"]) for r in rows]},
                "text": [f"n={r['n_patients']}" for r in rows],
                "textposition": "auto",
            }
        ],
        "layout": {
            **LAYOUT,
            "height": 360,
            "title": {"text": title},
            "yaxis": {"title": {"text": "mean proportion"}, "range": [0, 1]},
        },
    }


def trajectories(longi: dict[str, Any]) -> dict[str, Any] | None:
    """Total score over time per patient, coloured by subtype."""
    if longi.get("status") != "ok":
        return None
    by_patient: dict[Any, list[dict]] = {}
    for row in longi["trajectories"]:
        by_patient.setdefault(row["patient_id"], []).append(row)
    data, shown = [], set()
    for rows in by_patient.values():
        if len(rows) < 2:
            continue
        rows.sort(key=lambda r: r["days_from_baseline"] or 0)
        subtype = rows[0]["subtype"]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": subtype,
                "legendgroup": subtype,
                "showlegend": subtype not in shown,
                "x": [(r["days_from_baseline"] or 0) / 365.25 for r in rows],
                "y": [r["total"] for r in rows],
                "line": {"color": SUBTYPE_COLOURS.get(subtype)},
            }
        )
        shown.add(subtype)
    return {
        "data": data,
        "layout": {
            **LAYOUT,
            "height": 380,
            "title": {"text": "Total score over time"},
            "xaxis": {"title": {"text": "years from baseline"}},
            "yaxis": {"title": {"text": "total score"}},
        },
    }


def change_per_year_note(longi: dict[str, Any]) -> str:
    """Median yearly change of the total per subtype, in words (shown under the trajectories);
    the status when there is nothing to summarize."""
    if longi.get("status") != "ok":
        return longi.get("status") or ""
    rows = {r["subtype"]: r for r in longi.get("summary", []) if r["score"] == "total"}
    parts = [
        f"{name} {row['median_change_per_year']:+.1f} (n={row['n_patients']})"
        if row.get("median_change_per_year") is not None
        else f"{name} {row.get('status') or 'no data'}"
        for name in [*SUBTYPE_ORDER, "all"]
        if (row := rows.get(name)) is not None
    ]
    return "Median change of the total score per year: " + ", ".join(parts) + "."


def clustered_heatmap(pat: dict[str, Any]) -> dict[str, Any] | None:
    """Patients (rows, dendrogram order) × groups (columns, dendrogram order), with a subtype
    strip beside the rows: the usual figure of the muscle-MRI literature."""
    if pat.get("status") != "ok":
        return None
    rows = pat["heatmap"]
    groups = [g for g in pat["clustering"]["group_order"]]
    names = {f"group:{slug}": name for slug, name, _region in group_names()}
    labels = [f"{r.get('pseudonym') or r['patient_id']}" for r in rows]
    subtypes = [r["subtype"] for r in rows]
    codes = [[SUBTYPE_ORDER.index(s) if s in SUBTYPE_ORDER else 5] for s in subtypes]
    palette = [[i / 5, SUBTYPE_COLOURS[s]] for i, s in enumerate(SUBTYPE_ORDER)]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": [[r[g] for g in groups] for r in rows],
                "x": [names.get(g, g) for g in groups],
                "y": labels,
                "zmin": 0,
                "zmax": 2,
                "colorscale": "YlOrRd",
                "reversescale": True,
                "xaxis": "x",
                "yaxis": "y",
                "colorbar": {"title": {"text": "group score"}},
            },
            {
                "type": "heatmap",
                "z": codes,
                "x": ["subtype"],
                "y": labels,
                "text": [[s] for s in subtypes],
                "hovertemplate": "%{y}: %{text}<extra></extra>",
                "colorscale": palette,
                "zmin": 0,
                "zmax": 5,
                "showscale": False,
                "xaxis": "x2",
                "yaxis": "y",
            },
        ],
        "layout": {
            **LAYOUT,
            "height": max(420, 12 * len(rows) + 160),
            "title": {
                "text": "Patients clustered by group-score profile (Ward)"
                + (" · random sample" if pat.get("sampled") else "")
            },
            "margin": {**LAYOUT["margin"], "l": 90, "b": 150},
            "xaxis": {"domain": [0.06, 1], "tickangle": -45, "type": "category"},
            "xaxis2": {"domain": [0, 0.04], "type": "category"},
            # Pseudonyms (or ids) as categories, in dendrogram order, never as numbers.
            "yaxis": {
                "autorange": "reversed",
                "tickfont": {"size": 8},
                "type": "category",
                "anchor": "x2",  # labels left of the subtype strip, in the margin
            },
        },
    }


def confusion(pat: dict[str, Any]) -> dict[str, Any] | None:
    clf = pat.get("classifier") or {}
    if "confusion_matrix" not in clf:
        return None
    labels = clf["labels"]
    title = (
        f"Subtype classifier (exploratory): balanced accuracy "
        f"{clf['balanced_accuracy_mean']:.2f} ± {clf['balanced_accuracy_sd']:.2f} "
        f"(chance {clf['chance_level']:.2f}"
        + (
            f"; label-permutation p = {clf['permutation_p']:.2g})"
            if clf.get("permutation_p") is not None
            else ")"
        )
    )
    return {
        "data": [
            {
                "type": "heatmap",
                "z": clf["confusion_matrix"],
                "x": labels,
                "y": labels,
                "colorscale": "Greens",
                "texttemplate": "%{z}",
                "hovertemplate": "true %{y} → predicted %{x}: %{z}<extra></extra>",
            }
        ],
        "layout": {
            **LAYOUT,
            "height": 380,
            "title": {"text": title},
            "xaxis": {"title": {"text": "predicted"}},
            "yaxis": {"title": {"text": "true"}, "autorange": "reversed"},
        },
        "label": clf.get("label", ""),
    }
