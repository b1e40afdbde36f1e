/* Cartostup – draws a département's communes (and QPV) with Leaflet.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 * Data comes from the container's data- attributes; no inline script (Content-Security-Policy).
 */
(function () {
  "use strict";

  function label(text) {
    // Tooltips get a text node, never HTML built from data.
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function draw(container) {
    var map = L.map(container, { preferCanvas: false, zoomSnap: 0.25 });
    var tileUrl = container.dataset.tileUrl;
    if (tileUrl) {
      L.tileLayer(tileUrl, { attribution: container.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    }
    fetch(container.dataset.geojsonUrl, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (collection) {
        var communes = L.geoJSON(collection, {
          filter: function (feature) { return feature.properties.layer === "commune"; },
          style: function () { return { color: "#000091", weight: 1, fillColor: "#6a6af4", fillOpacity: 0.12 }; },
          onEachFeature: function (feature, layer) {
            layer.bindTooltip(label(feature.properties.name + " (" + feature.properties.code + ")"), { sticky: true });
          }
        }).addTo(map);
        var qpv = L.geoJSON(collection, {
          filter: function (feature) { return feature.properties.layer === "qpv"; },
          style: function () { return { color: "#ce0500", weight: 2, fillColor: "#ce0500", fillOpacity: 0.25 }; },
          onEachFeature: function (feature, layer) {
            layer.bindTooltip(label("QPV " + feature.properties.name + " (" + feature.properties.code + ")"), { sticky: true });
          }
        });
        if (qpv.getLayers().length) {
          qpv.addTo(map);
          L.control.layers(null, { "Communes": communes, "Quartiers prioritaires": qpv }).addTo(map);
        }
        var bounds = communes.getBounds();
        if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([46.6, 2.4], 6); }
      })
      .catch(function () {
        map.setView([46.6, 2.4], 6);
        var message = document.createElement("p");
        message.className = "fr-error-text";
        message.textContent = container.dataset.errorMessage;
        container.insertAdjacentElement("afterend", message);
      });
  }

  document.querySelectorAll(".territory-map").forEach(draw);
})();
