/* SigmaSight web app: behaviour shared by every page (menus). No framework; htmx does the partial updates. */
(function () {
  "use strict";

  function openMenus() {
    return document.querySelectorAll("details[data-menu][open]");
  }

  // A menu (<details data-menu>) closes when the user clicks elsewhere or presses Escape.
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    openMenus().forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
})();

/* Filter forms marked data-drop-empty send (and put in the address bar) only the filters that are set. */
document.addEventListener("htmx:configRequest", function (event) {
  "use strict";
  var elt = event.detail.elt;
  if (!elt || !elt.closest || !elt.closest("[data-drop-empty]")) return;
  var params = event.detail.parameters;
  Object.keys(params).forEach(function (key) {
    if (params[key] === "") delete params[key];
  });
});

/* A button with data-copy-target="<id>" copies that element's text (a new access token) to the clipboard. */
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy-target]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy-target"));
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = "Copied";
  });
});
