/* Cartostup – Leaflet's own controls in the page's language: the zoom buttons' titles (also
 * their accessible names), the name of the layers control's button, the name of a popup's
 * close button and the title of the attribution's link, from this script's data- attributes,
 * translated by the template (core/_leaflet_js.html). Leaflet says them in English (« Zoom
 * in », « Layers », « Close popup », « A JavaScript library for interactive maps »).
 * Loaded right after leaflet.js, before any map is made: every L.map of the site gets them.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || typeof L === "undefined") { return; }
  var labels = script.dataset;
  L.Control.Zoom.mergeOptions({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut });
  // The attribution's prefix is HTML: built as a node, so the translation is text only.
  var link = document.createElement("a");
  link.href = "https://leafletjs.com";
  link.title = labels.leafletTitle;
  link.textContent = "Leaflet";
  L.Control.Attribution.mergeOptions({ prefix: link.outerHTML });
  // The layers control's button (shown when the control is collapsed) is titled « Layers » by
  // Leaflet, with no option to change it: retitled once the control is drawn.
  var addLayers = L.Control.Layers.prototype.onAdd;
  L.Control.Layers.include({
    onAdd: function (map) {
      var container = addLayers.call(this, map);
      var toggle = container.querySelector(".leaflet-control-layers-toggle");
      if (toggle && labels.layers) { toggle.title = labels.layers; toggle.setAttribute("aria-label", labels.layers); }
      return container;
    }
  });
  // A popup's close button is named « Close popup » (aria-label), with no option either.
  var addPopup = L.Popup.prototype.onAdd;
  L.Popup.include({
    onAdd: function (map) {
      addPopup.call(this, map);
      var close = this._container && this._container.querySelector(".leaflet-popup-close-button");
      if (close && labels.closePopup) { close.setAttribute("aria-label", labels.closePopup); close.title = labels.closePopup; }
    }
  });
})();
