/* Cartostup – the position pickers of the forms (a deal point's create, edit and split
 * forms; the placing of a report given by its address alone): a click on the map sets the
 * latitude and longitude inputs (6 decimals, about 10 cm), typing them moves the marker.
 * `place(latlng, pan)` draws the marker, as each page wants it.
 * Loaded with Leaflet (core/_leaflet_js.html); no inline script (Content-Security-Policy).
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
(function () {
  "use strict";

  function readNumber(input) {
    var value = parseFloat(String(input.value).replace(",", "."));
    return isNaN(value) ? null : value;
  }

  function bind(map, latitude, longitude, place) {
    map.on("click", function (event) {
      latitude.value = event.latlng.lat.toFixed(6);
      longitude.value = event.latlng.lng.toFixed(6);
      place(event.latlng, false);
    });
    function typed() {
      var lat = readNumber(latitude);
      var lng = readNumber(longitude);
      if (lat !== null && lng !== null && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) { place([lat, lng], true); }
    }
    latitude.addEventListener("change", typed);
    longitude.addEventListener("change", typed);
  }

  window.cartostupPicker = { bind: bind, readNumber: readNumber };
})();
