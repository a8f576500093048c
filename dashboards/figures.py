"""Plotly figure specifications built from stored results (plain dicts: fast, no statistics).

Each builder takes stored result JSON and returns {"data": [...], "layout": {...}} for
Plotly.react in the browser, plus the rows behind it for the figure's CSV download.
"""

from __future__ import annotations

from typing import Any

from scoring.models import FunctionalGroup

SUBTYPE_ORDER = ["IBM", "DM", "PM", "ASYS", "IMNM", "other"]
SUBTYPE_COLOURS = {
    "IBM": "#1f77b4",
    "DM": "#d62728",
    "PM": "#2ca02c",
    "ASYS": "#9467bd",
    "IMNM": "#ff7f0e",
    "other": "#7f7f7f",
}
LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "font": {"size": 12},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
}


def group_names() -> list[tuple[str, str, str]]:
    """(slug, name, region name) of every functional group in atlas order."""
    return list(
        FunctionalGroup.objects.select_related("region")
        .order_by("region__order", "order")
        .values_list("slug", "name", "region__name")
    )


def _subtypes(rows: list[dict], key: str = "subtype") -> list[str]:
    present = {r[key] for r in rows if r.get(key) not in (None, "all")}
    return [s for s in SUBTYPE_ORDER if s in present]


def heatmap(
    profile_rows: list[dict],
    *,
    stat: str = "mean",
    names: list[tuple[str, str, str]] | None = None,
    scale: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Mean (or median) group score per subtype; groups ordered by region; colours fixed from
    0 to the top grade of the result's `scale` (the paper's 0–2 if none is named). `names` is
    `group_names()` when the caller has read it already."""
    scale = scale or {"name": "IIM 0–2", "max": 2}
    present = {r["group"] for r in profile_rows}
    groups = [g for g in (group_names() if names is None else names) if g[0] in present]
    subtypes = _subtypes(profile_rows)
    cell = {(r["group"], r["subtype"]): r for r in profile_rows}
    n = {s: max((cell.get((g[0], s), {}).get("n") or 0) for g in groups) for s in subtypes}
    z = [[cell.get((g[0], s), {}).get(stat) for s in subtypes] for g in groups]
    labels = [f"{s} (n={n[s]})" for s in subtypes]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": labels,
                "y": [f"{g[2]} · {g[1]}" for g in groups],
                # plotly.js's YlOrRd runs dark to light; reversed, the top grade is dark red.
                "zmin": 0,
                "zmax": scale["max"],
                "colorscale": "YlOrRd",
                "reversescale": True,
                "colorbar": {"title": {"text": f"{stat} group score<br>{scale['name']}"}},
                "hovertemplate": "%{y}<br>%{x}: %{z:.2f}<extra></extra>",
            }
        ],
        "layout": {
            **LAYOUT,
            "title": {"text": f"{stat.capitalize()} group score per subtype"},
            "yaxis": {"autorange": "reversed", "automargin": True},
            "height": 520,
        },
    }


def scatter(
    patient_rows: list[dict],
    fits: list[dict],
    bands: list[dict],
    *,
    outcome: str,
    log10_ck: bool = False,
) -> dict[str, Any]:
    """MMT-8 or CK against the total score, coloured by subtype, with the OLS line and its
    95 % band; per-subtype fits are in the legend, hidden until clicked."""
    label = f"log10({outcome})" if outcome == "ck" and log10_ck else outcome
    data: list[dict[str, Any]] = []
    subtypes = _subtypes(patient_rows)
    # One pass over the patients (not one per subtype), keeping their order.
    plotted: dict[str, list[dict]] = {subtype: [] for subtype in subtypes}
    if subtypes:
        for r in patient_rows:
            points_of = plotted.get(r["subtype"])
            if points_of is not None and r.get(outcome) is not None and r.get("total") is not None:
                points_of.append(r)
    for subtype in subtypes:
        points = plotted[subtype]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": subtype,
                "x": [r["total"] for r in points],
                "y": [r[outcome] for r in points],
                "text": [r["pseudonym"] for r in points],
                "marker": {"color": SUBTYPE_COLOURS.get(subtype), "size": 8},
                "hovertemplate": "%{text}<br>total %{x:.1f}<br>" + outcome + " %{y}<extra></extra>",
            }
        )
    for band in bands:
        if band["outcome"] != label:
            continue
        overall = band["scope"] == "all"
        ys = [10**v for v in band["fit"]] if label.startswith("log10") else band["fit"]
        lows = [10**v for v in band["low"]] if label.startswith("log10") else band["low"]
        highs = [10**v for v in band["high"]] if label.startswith("log10") else band["high"]
        colour = "#222222" if overall else SUBTYPE_COLOURS.get(band["scope"], "#555")
        name = "OLS fit (all)" if overall else f"OLS fit ({band['scope']})"
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": band["x"] + band["x"][::-1],
                "y": highs + lows[::-1],
                "fill": "toself",
                "line": {"width": 0},
                "fillcolor": "rgba(0,0,0,0.10)" if overall else "rgba(0,0,0,0.05)",
                "name": f"95 % band ({band['scope']})",
                "legendgroup": name,
                "showlegend": False,
                "hoverinfo": "skip",
                "visible": True if overall else "legendonly",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": band["x"],
                "y": ys,
                "name": name,
                "legendgroup": name,
                "line": {"color": colour, "width": 2},
                "visible": True if overall else "legendonly",
            }
        )
    fit = next((f for f in fits if f["scope"] == "all" and f["outcome"] == label), None)
    subtitle = ""
    if fit and fit.get("status") == "ok":
        subtitle = (
            f"R² = {fit['r_squared']:.3f}, p = {fit['p']:.3g}, n = {fit['n']}"
            f" (slope {fit['slope']:.2f}, 95 % CI {fit['slope_ci_low']:.2f} to "
            f"{fit['slope_ci_high']:.2f})"
        )
    elif fit:
        subtitle = f"{fit.get('status')}: n = {fit.get('n')}"
    names = {"mmt8": "MMT-8 (0–150)", "ck": "CK (U/L)"}
    log_axis = outcome == "ck" and log10_ck
    return {
        "data": data,
        "layout": {
            **LAYOUT,
            "title": {"text": f"{names[outcome]} vs total MRI score<br><sub>{subtitle}</sub>"},
            "xaxis": {"title": {"text": "Total score (sum of muscle scores)"}},
            # The axis follows the model: a log axis with the log10(CK) fit (a straight line
            # there), a linear axis with the linear fit.
            "yaxis": {
                "title": {"text": f"{names[outcome]}, log scale" if log_axis else names[outcome]},
                **({"type": "log"} if log_axis else {}),
            },
            "height": 440,
        },
        "summary": subtitle,
    }


def limb_bars(limb_rows: list[dict]) -> dict[str, Any]:
    """Mean cumulative score of the upper and lower extremity per subtype (paper's finding:
    lower > upper in every subtype but DM)."""
    subtypes = _subtypes(limb_rows)
    cell = {(r["limb"], r["subtype"]): r for r in limb_rows}
    data = [
        {
            "type": "bar",
            "name": name,
            "x": subtypes,
            "y": [cell.get((limb, s), {}).get("mean") for s in subtypes],
            "marker": {"color": colour},
        }
        for limb, name, colour in (
            ("upper", "Upper extremity", "#6baed6"),
            ("lower", "Lower extremity", "#fd8d3c"),
        )
    ]
    return {
        "data": data,
        "layout": {
            **LAYOUT,
            "barmode": "group",
            "height": 380,
            "title": {"text": "Cumulative extremity score per subtype"},
            "yaxis": {"title": {"text": "Mean sum of muscle scores"}},
        },
    }


def dunn_matrix(dunn_rows: list[dict], group: str) -> dict[str, Any]:
    """Adjusted p of every subtype pair for one functional group, as a matrix."""
    rows = [r for r in dunn_rows if r["group"] == group]
    subtypes = [s for s in SUBTYPE_ORDER if any(s in (r["a"], r["b"]) for r in rows)]
    p = {(r["a"], r["b"]): r["p_adj"] for r in rows} | {(r["b"], r["a"]): r["p_adj"] for r in rows}
    z = [[None if a == b else p.get((a, b)) for b in subtypes] for a in subtypes]
    text = [["" if v is None else f"{v:.3g}" for v in row] for row in z]
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": subtypes,
                "y": subtypes,
                "text": text,
                "texttemplate": "%{text}",
                "zmin": 0,
                "zmax": 1,
                "colorscale": "Blues",
                "colorbar": {"title": {"text": "adjusted p"}},
            }
        ],
        "layout": {
            **LAYOUT,
            "height": 360,
            "yaxis": {"autorange": "reversed"},
            "title": {"text": "Dunn post-hoc: adjusted p"},
        },
    }
