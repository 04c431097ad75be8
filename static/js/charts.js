/* Bar charts from data on the page: <canvas data-chart="ID"> draws the JSON of
   {{ value|json_script:"ID" }} = {labels: [...], datasets: [{label, data}], stacked: bool}.
   The figures are also in a table on the same page (the canvas has role="img" and a label saying so). */
(function () {
  "use strict";
  var COLOURS = ["#0a4db0", "#6c9bd8", "#b6c9e8", "#146c43", "#b02a37", "#6c757d"];
  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      var stacked = !!spec.stacked;
      new Chart(canvas, {
        type: "bar",
        data: {labels: spec.labels, datasets: spec.datasets.map(function (set, index) {
          return {label: set.label, data: set.data, backgroundColor: COLOURS[index % COLOURS.length]};
        })},
        options: {responsive: true, maintainAspectRatio: false, animation: false,
                  scales: {x: {stacked: stacked}, y: {stacked: stacked, beginAtZero: true, ticks: {precision: 0}}}}
      });
    });
  });
})();
