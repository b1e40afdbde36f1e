/* Cartostup – a page shown again with its form's errors moves the focus to the error summary
 * (#error-summary, role="alert"), so that keyboard and screen-reader users start from the
 * list of errors, each a link to its field (RGAA 11.10, 11.11). Every page of base.html.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (summary) {
    if (!summary.hasAttribute("tabindex")) { summary.setAttribute("tabindex", "-1"); }
    summary.focus();
  }
}());
