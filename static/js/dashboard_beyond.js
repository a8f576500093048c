// "Beyond the paper" sections of the cohort dashboard, from /beyond.json (stored results).
const slug = JSON.parse(document.getElementById("cohort-slug").textContent);
const CONFIG = { responsive: true, displaylogo: false };

function fmt(v, d = 2) {
  return v === null || v === undefined ? "–" : Number(v).toFixed(d);
}

function agreementRow(name, a) {
  const tr = document.createElement("tr");
  if (!a || a.status !== "ok") {
    tr.innerHTML = `<th scope="row"></th><td colspan="8" class="muted"></td>`;
    tr.querySelector("th").textContent = name;
    tr.querySelector("td").textContent = a ? a.message || `${a.status} (${a.n_pairs} pairs)` : "–";
    return tr;
  }
  const pooled = a.pooled || {};
  // The interval resamples read pairs (studies), not cells: see pooled_by_study.ci.
  const byStudy = a.pooled_by_study || {};
  const icc2 = (a.icc || []).find((r) => r.score === "total" && r.form === "ICC2") || {};
  const icc3 = (a.icc || []).find((r) => r.score === "total" && r.form === "ICC3") || {};
  const ba = a.bland_altman || {};
  const cells = [a.n_pairs, fmt(100 * pooled.percent_agreement, 1), fmt(pooled.kappa_unweighted), `${fmt(pooled.kappa_linear)} [${fmt(byStudy.kappa_linear_ci_low)}, ${fmt(byStudy.kappa_linear_ci_high)}]`, fmt(pooled.kappa_quadratic),
    `${fmt(icc2.icc)} [${fmt(icc2.ci_low)}, ${fmt(icc2.ci_high)}]`, fmt(icc3.icc), `${fmt(ba.mean_difference)} [${fmt(ba.loa_low)}, ${fmt(ba.loa_high)}]`];
  const th = document.createElement("th");
  th.textContent = name;
  tr.append(th);
  for (const value of cells) {
    const td = document.createElement("td");
    td.className = "num";
    td.textContent = value;
    tr.append(td);
  }
  return tr;
}

async function drawBeyond() {
  const response = await fetch(`/dashboards/${slug}/beyond.json`, { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  if (!data.available) {
    const note = document.getElementById("beyond-note");
    note.textContent = `Beyond the paper: ${data.message || "not available"}`;
    note.classList.toggle("error", Boolean(data.failed));
    document.body.dataset.beyondDrawn = "0";
    return;
  }
  const body = document.querySelector("#agreement-table tbody");
  body.replaceChildren(agreementRow("Inter-reader (two readers)", data.agreement.inter), agreementRow("Intra-reader (re-reads)", data.agreement.intra));
  for (const [name, figure] of Object.entries(data.figures)) {
    const element = document.getElementById(`fig-${name}`);
    if (element) await Plotly.react(element, figure.data, figure.layout, CONFIG);
  }
  document.getElementById("trajectories-note").textContent = data.notes.longitudinal || "";
  document.getElementById("classifier-label").textContent = data.figures.classifier?.label || data.notes.patterns || "";
  document.body.dataset.beyondDrawn = "1";
}

drawBeyond();
