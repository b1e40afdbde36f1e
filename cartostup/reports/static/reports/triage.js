/* Cartostup – maps of the triage pages: the queue's reports (GeoJSON from the staff endpoint,
 * same filters as the table) and one report's place, where a report given by its address
 * alone is placed (a click sets the placing form's latitude and longitude).
 * SPDX-License-Identifier: AGPL-3.0-or-later
 * Data comes from the containers' data- attributes; no inline script or style
 * (Content-Security-Policy). Without tiles the maps draw the départements' communes (offline).
 */
(function () {
  "use strict";

  // The same colours as the legend and the badges (staff.css).
  var COLOURS = {
    new: "#000091",
    question: "#b34000",
    accepted: "#18753c",
    spam: "#666666",
    unfounded: "#ce0500"
  };
  var FRANCE = [46.6, 2.4];

  function text(tag, content, className) {
    // Popups get DOM nodes built with textContent, never HTML built from data.
    var element = document.createElement(tag);
    element.textContent = content;
    if (className) { element.className = className; }
    return element;
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      });
  }

  function baseMap(container) {
    var map = L.map(container, { zoomSnap: 0.25 });
    var tileUrl = container.dataset.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, { attribution: container.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  function drawBoundaries(map, urls) {
    // Communes under the markers, behind them (a pane below the markers).
    if (!map.getPane("boundaries")) {
      map.createPane("boundaries");
      map.getPane("boundaries").style.zIndex = "350";
    }
    urls.forEach(function (url) {
      fetchJson(url).then(function (collection) {
        L.geoJSON(collection, {
          pane: "boundaries",
          interactive: false,
          filter: function (feature) { return feature.properties.layer === "commune"; },
          style: function () { return { color: "#6a6af4", weight: 1, fillColor: "#e3e3fd", fillOpacity: 0.25 }; }
        }).addTo(map);
      }).catch(function () { /* the markers are what matters */ });
    });
  }

  function marker(latlng, status) {
    return L.circleMarker(latlng, {
      radius: 7,
      weight: 2,
      color: "#ffffff",
      fillColor: COLOURS[status] || "#3a3a3a",
      fillOpacity: 0.95
    });
  }

  function popup(properties) {
    var box = document.createElement("div");
    var link = text("a", properties.reference);
    link.href = properties.url;
    var title = document.createElement("p");
    title.className = "fr-text--bold fr-mb-1v";
    title.appendChild(link);
    box.appendChild(title);
    box.appendChild(text("p", properties.status_label, "fr-mb-1v"));
    box.appendChild(text("p", properties.received, "fr-text--sm fr-mb-0"));
    return box;
  }

  function showError(container, message) {
    if (!message) { return; }
    var paragraph = text("p", message, "fr-error-text");
    container.insertAdjacentElement("afterend", paragraph);
  }

  function boundaryUrls(container) {
    try {
      return JSON.parse(container.dataset.boundaryUrls || "[]");
    } catch (error) {
      return [];
    }
  }

  function drawQueue(container) {
    var map = baseMap(container);
    map.setView(FRANCE, 6);
    drawBoundaries(map, boundaryUrls(container));
    fetchJson(container.dataset.geojsonUrl)
      .then(function (collection) {
        var layer = L.geoJSON(collection, {
          pointToLayer: function (feature, latlng) { return marker(latlng, feature.properties.status); },
          onEachFeature: function (feature, item) {
            item.bindPopup(popup(feature.properties));
            item.bindTooltip(text("span", feature.properties.reference + " – " + feature.properties.status_label));
          }
        }).addTo(map);
        var bounds = layer.getBounds();
        if (bounds.isValid()) { map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 }); }
        container.dataset.markers = String(collection.features.length);
        if (collection.truncated) { showError(container, container.dataset.truncatedMessage); }
      })
      .catch(function () { showError(container, container.dataset.errorMessage); });
  }

  function placedMarker(latlng) {
    return L.circleMarker(latlng, { radius: 9, weight: 3, color: "#000091", fillColor: "#ffffff", fillOpacity: 0.95 });
  }

  // The placing form's picker, as on the deal-point forms (dealpoints/dealpoint_form.js): a
  // click on the map sets the latitude and longitude inputs, typing them moves the pin.
  function drawPicker(container, map) {
    var latitude = document.getElementById(container.dataset.latitudeInput);
    var longitude = document.getElementById(container.dataset.longitudeInput);
    if (!latitude || !longitude) { return; }
    var pin = null;
    function place(latlng, pan) {
      if (pin) {
        pin.setLatLng(latlng);
      } else {
        pin = placedMarker(latlng).bindTooltip(text("span", container.dataset.placedLabel || "")).addTo(map);
      }
      if (pan) { map.setView(latlng, Math.max(map.getZoom() || 0, 16)); }
      container.dataset.placed = "true";
    }
    var start = [window.cartostupPicker.readNumber(latitude), window.cartostupPicker.readNumber(longitude)];
    if (start[0] !== null && start[1] !== null) { place(start, true); }
    window.cartostupPicker.bind(map, latitude, longitude, place);
  }

  function drawReport(container) {
    var latlng = [parseFloat(container.dataset.latitude), parseFloat(container.dataset.longitude)];
    if (isNaN(latlng[0]) || isNaN(latlng[1])) { return; }
    var map = baseMap(container);
    // A report to place stands at its commune's point: the commune is shown, not a street.
    map.setView(latlng, container.dataset.latitudeInput ? 14 : 16);
    drawBoundaries(map, boundaryUrls(container));
    marker(latlng, container.dataset.status)
      .bindTooltip(text("span", container.dataset.label), { permanent: false })
      .addTo(map);
    if (container.dataset.latitudeInput) { drawPicker(container, map); }
  }

  document.querySelectorAll(".reports-map--triage").forEach(drawQueue);
  document.querySelectorAll(".reports-map--detail").forEach(drawReport);
})();
