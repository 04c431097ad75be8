/* Django admin: the date and time boxes of a date-time field get a label each (WCAG 1.3.1, 4.1.2):
   "<field label> – Date" and "<field label> – Time", from the texts the admin already shows. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("p.datetime").forEach(function (box) {
      var row = box.closest(".form-row, .fieldBox, div");
      var fieldLabel = row && row.querySelector("label");
      var name = fieldLabel ? fieldLabel.textContent.replace(/:\s*$/, "").trim() : "";
      var parts = [];
      box.childNodes.forEach(function (node) {
        if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) { parts.push(node.textContent.trim()); }
      });
      box.querySelectorAll("input").forEach(function (input, index) {
        if (!input.hasAttribute("aria-label")) {
          input.setAttribute("aria-label", [name, parts[index] || ""].filter(Boolean).join(" – "));
        }
      });
    });
  });
})();
