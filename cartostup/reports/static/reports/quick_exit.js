/* Cartostup – quick exit from the public pages.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * The "Quitter ce site" button, or Escape pressed twice within a second, empties the forms and
 * replaces the page with about:blank. `location.replace` swaps the current history entry, so
 * "Back" does not return to the form; about:blank makes no request to us or to anyone else.
 */
(function () {
  "use strict";

  var ESCAPE_WINDOW_MS = 1000;
  var lastEscape = 0;

  function leave() {
    try {
      document.querySelectorAll("form").forEach(function (form) { form.reset(); });
      document.body.textContent = "";
    } finally {
      window.location.replace("about:blank");
    }
  }

  var button = document.getElementById("quick-exit");
  if (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      leave();
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" && event.key !== "Esc") { return; }
    var now = Date.now();
    if (now - lastEscape <= ESCAPE_WINDOW_MS) {
      leave();
    }
    lastEscape = now;
  });
})();
