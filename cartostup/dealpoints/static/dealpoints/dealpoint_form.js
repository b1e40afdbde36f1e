/* Cartostup – the deal-point pages' small maps: a point's place on its record, and the
 * position picker of the create, edit and split forms (a click sets the latitude and
 * longitude inputs; typing them moves the marker).
 * SPDX-License-Identifier: AGPL-3.0-or-later
 * Data comes from the containers' data- attributes; no inline script or style
 * (Content-Security-Policy). Without tiles the maps draw the départements' communes (offline).
 */
(function () {
  "use strict";

  var FRANCE = [46.6, 2.4];

  function baseMap(container) {
    var map = L.map(container, { zoomSnap: 0.25 });
    var tileUrl = container.dataset.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, { attribution: container.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  function boundaryUrls(container) {
    try {
      return JSON.parse(container.dataset.boundaryUrls || "[]");
    } catch (error) {
      return [];
    }
  }

  function drawBoundaries(map, urls, fit) {
    if (!map.getPane("boundaries")) {
      map.createPane("boundaries");
      map.getPane("boundaries").style.zIndex = "350";
    }
    urls.forEach(function (url) {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (collection) {
          var layer = L.geoJSON(collection, {
            pane: "boundaries",
            interactive: false,
            filter: function (feature) { return feature.properties.layer === "commune"; },
            style: function () { return { color: "#6a6af4", weight: 1, fillColor: "#e3e3fd", fillOpacity: 0.25 }; }
          }).addTo(map);
          if (fit && layer.getBounds().isValid()) { map.fitBounds(layer.getBounds()); }
        })
        .catch(function () { /* the marker is what matters */ });
    });
  }

  function marker(latlng) {
    return L.circleMarker(latlng, { radius: 8, weight: 2, color: "#ffffff", fillColor: "#000091", fillOpacity: 0.95 });
  }

  function drawRecord(container) {
    var latlng = [parseFloat(container.dataset.latitude), parseFloat(container.dataset.longitude)];
    if (isNaN(latlng[0]) || isNaN(latlng[1])) { return; }
    var map = baseMap(container);
    map.setView(latlng, 16);
    drawBoundaries(map, boundaryUrls(container), false);
    var label = document.createElement("span");
    label.textContent = container.dataset.label || "";
    // Always shown (not on hover only: a hover text must be dismissable and hoverable, WCAG
    // 1.4.13, which Leaflet's tooltip is not).
    var pin = marker(latlng).bindTooltip(label, { permanent: true, direction: "top", offset: [0, -12] }).addTo(map);
    // The browser stops on the pin with Tab: it says which point it is.
    var element = pin.getElement && pin.getElement();
    if (element) {
      element.setAttribute("role", "img");
      element.setAttribute("aria-label", container.dataset.label || "");
    }
  }

  function drawPicker(container) {
    var latitude = document.getElementById(container.dataset.latitudeInput);
    var longitude = document.getElementById(container.dataset.longitudeInput);
    if (!latitude || !longitude) { return; }
    var map = baseMap(container);
    var pin = null;
    function place(latlng, pan) {
      if (pin) { pin.setLatLng(latlng); } else { pin = marker(latlng).addTo(map); }
      if (pan) { map.setView(latlng, Math.max(map.getZoom() || 0, 16)); }
    }
    var start = [window.cartostupPicker.readNumber(latitude), window.cartostupPicker.readNumber(longitude)];
    var placed = start[0] !== null && start[1] !== null;
    if (placed) { map.setView(start, 16); place(start, false); } else { map.setView(FRANCE, 6); }
    drawBoundaries(map, boundaryUrls(container), !placed);
    window.cartostupPicker.bind(map, latitude, longitude, place);
  }

  if (typeof L === "undefined") { return; }
  document.querySelectorAll("#dealpoint-map").forEach(drawRecord);
  document.querySelectorAll(".dealpoint-map--picker").forEach(drawPicker);
})();
