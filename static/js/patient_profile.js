// Draw each timepoint's muscle and group score bars from the figure embedded in the page.
for (const element of document.querySelectorAll(".patient-figure")) {
  const figure = JSON.parse(element.dataset.figure);
  Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
}
