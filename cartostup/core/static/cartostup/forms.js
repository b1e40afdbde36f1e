/* Cartostup – a page shown again with its form's errors moves the focus to the error summary
 * (#error-summary, role="alert"), so that keyboard and screen-reader users start from the
 * list of errors, each a link to its field (RGAA 11.10, 11.11). Otherwise a page reached
 * after an action (« Diffusion enregistrée », a token created…) moves it to the message that
 * says what was done (#messages, role="status"), as the matching queue does, unless the
 * address names a place of the page (#…) or something already took the focus: the first
 * Tab then goes on from the message, not from the top of the page. Every page of base.html.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) {
    if (!summary.hasAttribute("tabindex")) { summary.setAttribute("tabindex", "-1"); }
    summary.focus();
    return;
  }
  var messages = document.getElementById("messages");
  var untouched = !document.activeElement || document.activeElement === document.body;
  if (messages && untouched && !window.location.hash) {
    if (!messages.hasAttribute("tabindex")) { messages.setAttribute("tabindex", "-1"); }
    messages.focus();
  }
}());
