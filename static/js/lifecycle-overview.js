/* Lifecycle overview charts: data from the json_script lifecycle-data; no inline script (CSP). */
(function () {
  var data = JSON.parse(document.getElementById("lifecycle-data").textContent);
  var stage = document.getElementById("stage-chart");
  if (!stage) { return; }
  new Chart(stage, {type: "doughnut", data: {labels: data.stages, datasets: [{label: data.count_label, data: data.counts, backgroundColor: data.colours}]},
    options: {responsive: true, maintainAspectRatio: false, animation: false}});
  new Chart(document.getElementById("flow-chart"), {type: "line",
    data: {labels: data.months, datasets: data.flows.map(function (f) { return {label: f.label, data: f.data, borderColor: f.colour, backgroundColor: f.colour, tension: 0.2}; })},
    options: {responsive: true, maintainAspectRatio: false, animation: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}});
})();
