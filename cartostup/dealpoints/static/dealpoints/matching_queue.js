/* Cartostup – the matching queue after a decision. The page comes back at its message
 * (#messages, role="status", tabindex="-1": the browser focuses it, and so does this script,
 * so that a screen reader reads what was decided); its script tag names the next item of
 * the section the decision was taken in (data-next: link-12, proposal-3…, or the section's
 * heading when it is now empty). Tab from the message goes on to that item, not to the top
 * of the page: keyboard users process the queue item after item.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 * A static file (Content-Security-Policy: no inline script).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var messages = document.getElementById("messages");
  if (!messages) { return; }
  messages.focus();
  var anchor = script ? script.getAttribute("data-next") : "";
  var target = anchor ? document.getElementById(anchor) : null;
  if (!target) { return; }

  // An item takes the focus by its row's first link or button; a section by its heading.
  var next = target.tagName === "TR" ? target.querySelector("a[href], button:not([disabled])") : null;
  if (!next) {
    next = target;
    if (!next.hasAttribute("tabindex")) { next.setAttribute("tabindex", "-1"); }
  }
  messages.addEventListener("keydown", function (event) {
    if (event.key === "Tab" && !event.shiftKey && !event.altKey && !event.ctrlKey &&
        !event.metaKey && document.activeElement === messages) {
      event.preventDefault();
      next.focus();
    }
  });
}());
