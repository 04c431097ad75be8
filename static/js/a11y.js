/* Keyboard access for every page (WCAG 2.1.1): a table box that scrolls sideways on a phone gets into the
   tab order, so it can be scrolled with the arrow keys. Runs on load and after every htmx swap, so new
   pages and partials need nothing. */
(function () {
  "use strict";
  function reachable(root) {
    (root || document).querySelectorAll(".table-responsive:not([tabindex])").forEach(function (box) {
      box.setAttribute("tabindex", "0");
      if (!box.hasAttribute("role")) { box.setAttribute("role", "region"); }
      if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
        var table = box.querySelector("table");
        var caption = table && table.querySelector("caption");
        var heading = box.closest("section") && box.closest("section").querySelector("h2, h3");
        var label = (caption || heading);
        if (label && label.textContent.trim()) { box.setAttribute("aria-label", label.textContent.trim()); }
        else { box.removeAttribute("role"); }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { reachable(document); });
  document.addEventListener("htmx:afterSwap", function (event) { reachable(event.target); });
})();
