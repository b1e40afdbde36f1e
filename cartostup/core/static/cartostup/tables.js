/* Cartostup – a DSFR table wider than its container scrolls sideways (a narrow screen, or a page
 * zoomed to 400 %): the scrolling container then takes the keyboard focus, so that the arrow
 * keys scroll it, and is a region named by the table's caption (RGAA 7.3 and 12.13, WCAG
 * 2.1.1; axe-core, scrollable-region-focusable). A container that does not scroll is left out
 * of the tab order. Tables drawn later (the map's) are seen when the window is resized or the
 * table changes. Every page of base.html.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var fallbackName = (script && script.dataset.label) || "";
  var count = 0;

  function name(container) {
    var caption = container.querySelector("caption");
    if (caption && caption.textContent.trim()) {
      if (!caption.id) { count += 1; caption.id = "cartostup-table-caption-" + count; }
      container.setAttribute("aria-labelledby", caption.id);
    } else {
      container.setAttribute("aria-label", fallbackName);
    }
  }

  function update(container) {
    var scrolls = container.scrollWidth > container.clientWidth + 1;
    var made = container.hasAttribute("data-cartostup-scroll");
    if (scrolls && !made && !container.hasAttribute("tabindex")) {
      container.setAttribute("data-cartostup-scroll", "");
      container.setAttribute("tabindex", "0");
      container.setAttribute("role", "region");
      name(container);
    } else if (!scrolls && made) {
      ["data-cartostup-scroll", "tabindex", "role", "aria-labelledby", "aria-label"].forEach(function (attribute) {
        container.removeAttribute(attribute);
      });
    }
  }

  function updateAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".fr-table__container"), update);
  }

  var pending = false;
  function later() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () { pending = false; updateAll(); });
  }

  updateAll();
  window.addEventListener("resize", later);
  window.addEventListener("load", later);
  if (document.fonts && document.fonts.ready) { document.fonts.ready.then(later); }
  if (window.MutationObserver) {
    var observer = new MutationObserver(later);
    Array.prototype.forEach.call(document.querySelectorAll(".fr-table__container table"), function (table) {
      observer.observe(table, { childList: true, subtree: true, characterData: true });
    });
  }
}());
