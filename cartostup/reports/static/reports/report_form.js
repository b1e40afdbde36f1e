/* Cartostup – the public report form: map pin, offline commune search, proof of work.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * Never asks for the reader's position (no geolocation API): the pin is where the reader taps.
 * Every request goes to this site. Texts come from the page's data- attributes (translated).
 */
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  if (!form) { return; }

  var latitudeInput = document.getElementById("id_latitude");
  var longitudeInput = document.getElementById("id_longitude");
  var communeInput = document.getElementById("id_commune_code");
  var queryInput = document.getElementById("commune-query");
  var searchButton = document.getElementById("commune-search-button");
  var searchStatus = document.getElementById("commune-status");
  var resultsList = document.getElementById("commune-results");
  var pinStatus = document.getElementById("pin-status");
  var mapBlock = document.getElementById("map-block");
  var mapElement = document.getElementById("report-map");

  var FRANCE = [46.6, 2.4];
  var map = null;
  var marker = null;
  var outline = null;

  // --- error summary: focus it so that screen readers announce it ------------------------
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // --- online selling reveals the account field ---------------------------------------------
  var onlineBox = form.querySelector('input[name="activities"][value="online"]');
  var onlineBlock = document.getElementById("online-account-block");
  function toggleOnline() {
    var hasError = onlineBlock.querySelector(".fr-input-group--error") !== null;
    onlineBlock.hidden = !(onlineBox.checked || hasError);
  }
  if (onlineBox && onlineBlock) {
    onlineBox.addEventListener("change", toggleOnline);
    toggleOnline();
  }

  // --- the map --------------------------------------------------------------------------
  function round(value) { return Math.round(value * 1e6) / 1e6; }

  function showPin(latlng) {
    latitudeInput.value = String(round(latlng.lat));
    longitudeInput.value = String(round(latlng.lng));
    pinStatus.classList.remove("fr-error-text");
    pinStatus.textContent = pinStatus.dataset.msgPlaced;
  }

  function placePin(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
    } else {
      marker = L.marker(latlng, {
        draggable: true,
        keyboard: true,
        title: mapElement.dataset.markerLabel,
        alt: mapElement.dataset.markerLabel
      }).addTo(map);
      marker.on("dragend", function () { showPin(marker.getLatLng()); });
    }
    showPin(latlng);
  }

  function removePin() {
    if (marker) { map.removeLayer(marker); marker = null; }
    latitudeInput.value = "";
    longitudeInput.value = "";
    pinStatus.textContent = pinStatus.dataset.msgNone;
  }

  if (mapElement && window.L) {
    mapBlock.hidden = false;
    map = L.map(mapElement, { zoomSnap: 0.5, tapTolerance: 20 });
    if (mapElement.dataset.tileUrl) {
      L.tileLayer(mapElement.dataset.tileUrl, {
        attribution: mapElement.dataset.tileAttribution || "",
        maxZoom: 19
      }).addTo(map);
    }
    var lat = parseFloat(latitudeInput.value);
    var lng = parseFloat(longitudeInput.value);
    if (isFinite(lat) && isFinite(lng)) {
      map.setView([lat, lng], 16);
      placePin(L.latLng(lat, lng));
    } else {
      map.setView(FRANCE, 5);
      if (!pinStatus.textContent) { pinStatus.textContent = pinStatus.dataset.msgNone; }
    }
    map.on("click", function (event) { placePin(event.latlng); });
    document.getElementById("pin-centre").addEventListener("click", function () {
      placePin(map.getCenter());
    });
    document.getElementById("pin-remove").addEventListener("click", removePin);
  }

  // --- commune search (this site's own list of communes) -----------------------------------
  function choose(result) {
    communeInput.value = result.code;
    queryInput.value = result.name;
    resultsList.textContent = "";
    searchStatus.textContent = searchStatus.dataset.msgChosen + " " + result.label;
    if (!map) { return; }
    if (outline) { map.removeLayer(outline); }
    if (result.outline) {
      outline = L.geoJSON(result.outline, {
        interactive: false,
        style: function () { return { color: "#000091", weight: 2, fillColor: "#6a6af4", fillOpacity: 0.08 }; }
      }).addTo(map);
    }
    map.fitBounds([[result.bbox[1], result.bbox[0]], [result.bbox[3], result.bbox[2]]]);
    mapElement.focus();
  }

  function showResults(results) {
    resultsList.textContent = "";
    if (!results.length) {
      searchStatus.textContent = searchStatus.dataset.msgNone;
      return;
    }
    if (results.length === 1) { choose(results[0]); return; }
    searchStatus.textContent = searchStatus.dataset.msgResults;
    results.forEach(function (result) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "fr-btn fr-btn--tertiary fr-btn--sm";
      button.textContent = result.label;
      button.addEventListener("click", function () { choose(result); });
      item.appendChild(button);
      resultsList.appendChild(item);
    });
    var first = resultsList.querySelector("button");
    if (first) { first.focus(); }
  }

  function search() {
    var query = queryInput.value.trim();
    if (query.length < 2) { return; }
    searchStatus.textContent = searchStatus.dataset.msgSearching;
    var url = queryInput.dataset.searchUrl + "?q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (payload) { showResults(payload.results || []); })
      .catch(function () { searchStatus.textContent = searchStatus.dataset.msgError; });
  }

  if (queryInput && searchButton) {
    searchButton.hidden = false;
    searchButton.addEventListener("click", search);
    queryInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); search(); }
    });
    // A commune chosen then edited is no longer chosen.
    queryInput.addEventListener("input", function () { communeInput.value = ""; });
  }

  // --- proof of work, then submit ---------------------------------------------------------
  var submitButton = document.getElementById("report-submit");
  var progressBlock = document.getElementById("pow-progress");
  var progressStatus = document.getElementById("pow-status");
  var progressBar = document.getElementById("pow-bar");
  var challengeInput = document.getElementById("pow-challenge");
  var nonceInput = document.getElementById("pow-nonce");
  var busy = false;

  function fail() {
    busy = false;
    submitButton.disabled = false;
    progressStatus.textContent = form.dataset.msgFailed;
  }

  function send(challenge, nonce) {
    challengeInput.value = challenge;
    nonceInput.value = nonce;
    progressBar.value = 100;
    progressStatus.textContent = form.dataset.msgSending;
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) { return; }
    busy = true;
    submitButton.disabled = true;
    progressBlock.hidden = false;
    progressBar.value = 0;
    progressStatus.textContent = form.dataset.msgWorking;
    // Difficulty 0: the page already carries a challenge (the form works without JavaScript).
    if (challengeInput.value) { send(challengeInput.value, nonceInput.value || "0"); return; }
    fetch(form.dataset.challengeUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (payload) {
        if (!payload.difficulty) { send(payload.challenge, "0"); return; }
        var worker = new Worker(form.dataset.workerUrl);
        worker.onmessage = function (message) {
          if (message.data.nonce !== undefined) {
            worker.terminate();
            send(payload.challenge, message.data.nonce);
          } else if (message.data.progress !== undefined) {
            progressBar.value = Math.round(message.data.progress * 100);
          } else {
            worker.terminate();
            fail();
          }
        };
        worker.onerror = function () { worker.terminate(); fail(); };
        worker.postMessage({ challenge: payload.challenge, difficulty: payload.difficulty });
      })
      .catch(fail);
  });
})();
