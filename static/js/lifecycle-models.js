/* Churn model charts: data from the json_script model-data; no inline script (CSP). */
(function () {
  var data = JSON.parse(document.getElementById("model-data").textContent);
  if (!data) { return; }
  new Chart(document.getElementById("calibration-chart"), {type: "scatter",
    data: {datasets: [
      {label: data.observed_label, data: data.predicted.map(function (p, i) { return {x: p, y: data.observed[i]}; }), backgroundColor: "#0d6efd", showLine: true, borderColor: "#0d6efd"},
      {label: data.ideal_label, data: [{x: 0, y: 0}, {x: 1, y: 1}], showLine: true, borderColor: "#adb5bd", borderDash: [4, 4], pointRadius: 0}
    ]},
    options: {responsive: true, maintainAspectRatio: false, animation: false, scales: {x: {min: 0, max: 1}, y: {min: 0, max: 1}}}});
  new Chart(document.getElementById("features-chart"), {type: "bar",
    data: {labels: data.features, datasets: [{label: data.importance_label, data: data.importance, backgroundColor: "#198754"}]},
    options: {indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false}});
})();
