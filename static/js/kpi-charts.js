/* The KPI charts (evaluation): data from the json_script kpi-charts-data; no inline script (CSP). */
(function () {
  const charts = JSON.parse(document.getElementById("kpi-charts-data").textContent);
  const meta = document.getElementById("kpi-charts-meta");
  const targetLabel = meta ? meta.getAttribute("data-target-label") : "target";
  for (const chart of charts) {
    const canvas = document.getElementById("chart-" + chart.code);
    if (!canvas) continue;
    const datasets = [{label: chart.label, data: chart.values, borderColor: "#0d6efd", spanGaps: true, tension: 0.2}];
    if (chart.target !== null) {
      datasets.push({label: targetLabel, data: chart.labels.map(() => chart.target), borderColor: "#dc3545",
                     borderDash: [6, 4], pointRadius: 0});
    }
    new Chart(canvas, {type: "line", data: {labels: chart.labels, datasets: datasets},
                       options: {responsive: true, maintainAspectRatio: false, animation: false}});
  }
})();
