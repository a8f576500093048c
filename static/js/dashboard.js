// Cohort dashboard: every figure is drawn from /data.json (stored results only); the page polls
// /status.json and redraws in place when a recomputation finishes. A filter set not computed yet
// is asked for once by POST to /compute/ (a GET never stores anything).

const slug = JSON.parse(document.getElementById("cohort-slug").textContent);
const base = `/dashboards/${slug}/`;
const form = document.getElementById("filters");
const badge = document.getElementById("status-badge");
const computedAt = document.getElementById("computed-at");
const csrfToken = document.getElementById("csrf-token").value;
let lastComputed = null;
let drawnOnce = false;
let requested = "";

const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  toImageButtonOptions: { format: "png", scale: 2 },
  modeBarButtonsToAdd: [
    {
      name: "Download as SVG",
      icon: { width: 1000, height: 1000, path: "M500 0 L1000 500 L750 500 L750 1000 L250 1000 L250 500 L0 500 Z" },
      click: (gd) => Plotly.downloadImage(gd, { format: "svg", filename: `${slug}-${gd.id.replace("fig-", "")}` }),
    },
  ],
};

function query(extra = {}) {
  const params = new URLSearchParams(new FormData(form));
  params.set("stat", document.querySelector("input[name=stat]:checked").value);
  params.set("group", document.getElementById("dunn-group").value);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return params;
}

function showStatus(status, computed) {
  badge.textContent = status.label;
  badge.className = `badge ${status.label}`;
  computedAt.textContent = computed ? `computed ${new Date(computed).toLocaleString()}` : "no results yet";
  document.body.dataset.dashboardStatus = status.label;
  if (status.last_error) computedAt.textContent += ` · last recomputation failed: ${status.last_error}`;
}

function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (Math.abs(value) > 0 && Math.abs(value) < 0.001) return value.toExponential(2);
  return Number(value.toFixed(digits)).toString();
}

function renderKruskal(rows) {
  const body = document.querySelector("#kruskal-table tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    if (row.p_adj !== null && row.p_adj < 0.05) tr.classList.add("significant");
    const cells = [row.group_name, row.n, fmt(row.H), row.df, fmt(row.p), fmt(row.p_adj), fmt(row.epsilon_squared), row.status];
    cells.forEach((value, i) => {
      const td = document.createElement("td");
      td.textContent = value ?? "–";
      if (i > 0 && i < 7) td.className = "num";
      tr.append(td);
    });
    tr.title = row.p_adj !== null && row.p_adj < 0.05 ? "significant after correction (adjusted p < 0.05)" : "";
    body.append(tr);
  }
}

function renderDescriptives(rows) {
  // Tidy rows (variable, level, subtype, statistic, value) → one line per variable.
  const subtypes = [...new Set(rows.map((r) => r.subtype))];
  const order = ["all", "IBM", "DM", "PM", "ASYS", "IMNM", "other"];
  subtypes.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const lines = new Map();
  for (const r of rows) {
    const name = r.label ?? r.variable;
    const key = r.level ? `${name}: ${r.level}` : name;
    if (!lines.has(key)) lines.set(key, {});
    lines.get(key)[r.subtype] ??= {};
    lines.get(key)[r.subtype][r.statistic] = r.value;
  }
  const head = document.querySelector("#descriptives-table thead");
  head.innerHTML = "";
  const htr = document.createElement("tr");
  for (const label of ["", ...subtypes]) {
    const th = document.createElement("th");
    th.textContent = label;
    htr.append(th);
  }
  head.append(htr);
  const body = document.querySelector("#descriptives-table tbody");
  body.replaceChildren();
  for (const [variable, bySubtype] of lines) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = variable;
    tr.append(th);
    for (const subtype of subtypes) {
      const s = bySubtype[subtype] || {};
      const td = document.createElement("td");
      if (s.median !== undefined) {
        td.textContent = s.n ? `${fmt(s.median, 1)} (${fmt(s.q1, 1)}–${fmt(s.q3, 1)}) [${fmt(s.min, 0)}–${fmt(s.max, 0)}] n=${s.n}` : "–";
      } else if (s.N !== undefined) {
        td.textContent = `${fmt(s.n, 0)}/${fmt(s.N, 0)}`;
      } else if (s.ratio !== undefined) {
        td.textContent = fmt(s.ratio, 2);
      } else {
        td.textContent = s.n !== undefined ? fmt(s.n, 0) : "–";
      }
      tr.append(td);
    }
    body.append(tr);
  }
}

async function requestComputation() {
  const wanted = query().toString();
  if (requested === wanted) return; // once per filter set: the poll redraws when it is stored
  requested = wanted;
  await fetch(`${base}compute/?${wanted}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken },
  });
}

async function draw() {
  const response = await fetch(`${base}data.json?${query()}`, { credentials: "same-origin" });
  if (!response.ok) {
    badge.textContent = `error ${response.status}`;
    return;
  }
  const payload = await response.json();
  showStatus(payload.status, payload.computed_at);
  if (payload.needs_computation) await requestComputation();
  lastComputed = payload.computed_at;
  document.getElementById("computing-note").hidden = Boolean(payload.computed_at);
  for (const [name, figure] of Object.entries(payload.figures)) {
    const element = document.getElementById(`fig-${name}`);
    if (element) await Plotly.react(element, figure.data, figure.layout, PLOT_CONFIG);
  }
  if (payload.tables.kruskal) renderKruskal(payload.tables.kruskal);
  if (payload.tables.descriptives) renderDescriptives(payload.tables.descriptives);
  drawnOnce = Boolean(payload.computed_at);
  document.body.dataset.dashboardDrawn = String(Number(document.body.dataset.dashboardDrawn || 0) + 1);
}

async function poll() {
  try {
    const response = await fetch(`${base}status.json?${query()}`, { credentials: "same-origin" });
    if (response.ok) {
      const payload = await response.json();
      showStatus(payload.status, payload.computed_at ?? lastComputed);
      if (payload.computed_at && payload.computed_at !== lastComputed) await draw();
      else if (!drawnOnce && payload.status.label !== "recomputing") await draw();
    }
  } finally {
    setTimeout(poll, 3000);
  }
}

for (const link of document.querySelectorAll("a.csv")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    window.location.href = `${base}csv/${link.dataset.figure}.csv?${query()}`;
  });
}
for (const input of document.querySelectorAll("input[name=stat], #dunn-group, #scope")) {
  input.addEventListener("change", draw);
}
form.addEventListener("submit", (event) => {
  // Filters live in the URL so a view can be shared; redraw without a full reload.
  event.preventDefault();
  const params = new URLSearchParams(new FormData(form));
  history.replaceState(null, "", `?${params}`);
  draw();
});

draw().then(() => setTimeout(poll, 3000));
