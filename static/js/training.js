// Draw each learning curve from the figure embedded in the page (analytics/training.py).
for (const element of document.querySelectorAll(".training-figure")) {
  const figure = JSON.parse(element.dataset.figure);
  Plotly.newPlot(element, figure.data, figure.layout, { responsive: true, displaylogo: false });
}
