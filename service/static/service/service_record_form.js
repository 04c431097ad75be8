// Show only the SOP checklist of the chosen touchpoint; the others are disabled so they are not sent.
(function () {
  var form = document.getElementById("service-record-form");
  if (!form) return;
  var select = form.querySelector("select[name=touchpoint]");
  function sync() {
    form.querySelectorAll(".service-steps").forEach(function (group) {
      var active = group.dataset.touchpointId === select.value;
      group.hidden = !active;
      group.querySelectorAll("input").forEach(function (input) { input.disabled = !active; });
    });
  }
  select.addEventListener("change", sync);
  sync();
})();
