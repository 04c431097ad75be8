/* Behaviour that used to sit in inline attributes, so the Content-Security-Policy can forbid inline scripts.
   - <select data-autosubmit>: submit its form on change (the language switch).
   - <select data-query-prefix="period=...">: load the page with that query plus the chosen value.
   - <form data-confirm="...">: ask before submitting. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.submit();
    }
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-query-prefix")) {
      window.location.search = target.getAttribute("data-query-prefix") + "&" + target.value;
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-confirm")) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    }
  });
})();
