/* The hotspot chart: data from the page's json_script element (no inline script, CSP). */
(function () {
  "use strict";
  var source = document.getElementById("hotspot-data");
  var canvas = document.getElementById("hotspot-chart");
  if (!source || !canvas || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {labels: data.labels, datasets: [
      {label: data.current_label, data: data.current, backgroundColor: "#0d6efd"},
      {label: data.previous_label, data: data.previous, backgroundColor: "#adb5bd"}
    ]},
    options: {responsive: true, maintainAspectRatio: false, animation: false,
              scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
  });
})();
