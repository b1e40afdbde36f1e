/* Cartostup – the map of deal points (/carte/): layers from /api/v1/map/, side panel, text
 * alternative below the map.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 * Data comes from the container's data- attributes; no inline script or style
 * (Content-Security-Policy). Without tiles the map draws the départements' boundaries (offline).
 */
(function () {
  "use strict";

  var container = document.getElementById("dealpoints-map");
  if (!container || typeof L === "undefined") { return; }
  var config = JSON.parse(container.dataset.config);
  var labels = container.dataset;
  var FRANCE = [46.6, 2.4];
  var STATUS_COLOURS = {
    reported: "#000091",
    confirmed: "#b34000",
    investigation: "#6e445a",
    dismantled: "#18753c",
    moved: "#666666",
    resurgent: "#ce0500"
  };
  var HOTSPOT_COLOURS = { hot: "#ce0500", cold: "#0063cb", not_significant: "#929292" };

  var statusNode = document.getElementById("map-status");
  var panel = document.getElementById("map-panel");
  var panelBody = document.getElementById("map-panel-body");
  var panelClose = document.getElementById("map-panel-close");
  var table = document.getElementById("map-table");
  var lastFocus = null;
  var openedKey = null;
  // The deal-point markers drawn, by id (partner code for a landlord): where focus goes back
  // when the panel of a point opened by a link (?point=) closes.
  var markersByKey = {};

  // The line under the map holds one sentence per source (a layer, the boundaries), in a
  // fixed order: a layer that answers again replaces its own sentence, never another's (an
  // error said by one layer stays until that layer loads), and a layer switched off takes its
  // sentence away.
  var STATUS_SOURCES = ["boundaries", "dealpoints", "reports", "operations", "proposals", "hotspots", "qpv"];
  var statusLines = {};

  function say(source, message) {
    if (!statusNode) { return; }
    if (message) { statusLines[source] = message; } else { delete statusLines[source]; }
    var text = STATUS_SOURCES.filter(function (name) { return statusLines[name]; }).map(function (name) {
      return statusLines[name];
    }).join(" ");
    if (statusNode.textContent !== text) { statusNode.textContent = text; }
  }

  function layerLabel(name) {
    // The layer's name in the layers control: « Signalements » for "reports".
    return labels["label" + name.charAt(0).toUpperCase() + name.slice(1)];
  }

  function layerError(name) {
    // « La couche « Signalements » n’a pas pu être chargée. »: which one, when several are on.
    return fill(labels.layerErrorMessage, { layer: layerLabel(name) });
  }

  function node(tag, content, className) {
    // Popups and the table get DOM nodes built with textContent, never HTML built from data.
    var element = document.createElement(tag);
    if (content !== undefined && content !== null) { element.textContent = content; }
    if (className) { element.className = className; }
    return element;
  }

  function fill(template, values) {
    // « reçu le %(date)s » with its values (the templates come translated from the page).
    return template.replace(/%\((\w+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function countText(count) {
    // French plural (the catalogue's Plural-Forms: n > 1): « 0 élément », « 1 élément »,
    // « 2 éléments ».
    // Grouped the French way: « 1 204 éléments ».
    return Number(count).toLocaleString("fr-FR") + " " + (count > 1 ? labels.labelCountMany : labels.labelCountOne);
  }

  // Numbers the French way (« 3,64 »): the API keeps JSON numbers, the page writes them.
  var Z_FORMAT = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var P_FORMAT = new Intl.NumberFormat("fr-FR", { maximumSignificantDigits: 2 });
  var DEGREES_FORMAT = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
  // Below it, a p-value is said « p < 0,001 » (rounded, a very small one read « p 0 »).
  var P_FLOOR = 0.001;

  function frenchDate(iso) {
    // « 2026-11-13 » → « 13/11/2026 » (the API keeps ISO dates).
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return parts ? parts[3] + "/" + parts[2] + "/" + parts[1] : (iso || "");
  }

  function httpError(response) {
    // The status, and the JSON body of an API error ({detail, code, errors}) when there is one.
    var error = new Error(String(response.status));
    error.status = response.status;
    return response.json().then(
      function (body) { error.body = body; throw error; },
      function () { throw error; }
    );
  }

  // The map is busy (aria-busy) from the script's start until its first view is set and every
  // request it made since has answered and been drawn: a screen reader may wait for the
  // update to end, and so does a script driving the page (the layers control moves while the
  // page still opens the filters on an error).
  var busyCount = 1;  // the first view, set by start()
  container.setAttribute("aria-busy", "true");
  function busyBegin() {
    busyCount += 1;
    container.setAttribute("aria-busy", "true");
  }
  function busyEnd() {
    busyCount -= 1;
    if (busyCount === 0) { container.setAttribute("aria-busy", "false"); }
  }

  // --- a session ended elsewhere -----------------------------------------------------------------
  // Signed out in another tab, or timed out on the server: the layers answer 401 and the
  // panel's request is sent to the login page. Said once, above the map, with the way back
  // to this very view; the layers' own errors are not said on top of it.
  var sessionNode = document.getElementById("map-session-ended");
  var sessionEnded = false;

  function endSession() {
    if (sessionEnded || !sessionNode) { return; }
    sessionEnded = true;
    var link = node("a", labels.sessionEndedLink);
    link.href = config.loginUrl + "?" + new URLSearchParams({
      next: window.location.pathname + window.location.search + window.location.hash
    }).toString();
    var text = node("p", labels.sessionEndedMessage + " ");
    text.appendChild(link);
    // Shown, then filled: a screen reader announces what an alert shown receives.
    sessionNode.hidden = false;
    sessionNode.replaceChildren(text);
  }

  function signedOut(error) {
    return Boolean(error && error.status === 401);
  }

  function fetchJson(url) {
    busyBegin();
    var request = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { return httpError(response); }
        return response.json();
      })
      .catch(function (error) {
        if (signedOut(error)) { endSession(); }
        throw error;
      });
    // After the caller's own handlers (promise callbacks run before the next task): the
    // answer is drawn, or its error said, when the map says it is no longer busy.
    var done = function () { setTimeout(busyEnd, 0); };
    request.then(done, done);
    return request;
  }

  // --- the filters' errors ------------------------------------------------------------------

  // The form's error area (role="alert"): what the dealpoints layer refused of the page's
  // filters (a filter the role may not use, a period that ends before it starts).
  var filterErrors = document.getElementById("map-filter-errors");

  function openFilters() {
    // The folded filters (a DSFR accordion) open on an error, to correct it beside its field.
    var collapse = document.getElementById("map-filters-collapse");
    var toggle = document.getElementById("map-filters-toggle");
    if (!collapse || !toggle || toggle.getAttribute("aria-expanded") === "true") { return; }
    if (window.dsfr) { window.dsfr(collapse).collapse.disclose(); } else { toggle.setAttribute("aria-expanded", "true"); }
  }

  function showFilterErrors(lines) {
    if (!filterErrors) { return; }
    var list = filterErrors.querySelector("ul");
    list.textContent = "";
    lines.forEach(function (line) { list.appendChild(node("li", line)); });
    filterErrors.hidden = !lines.length;
    if (lines.length) { openFilters(); }
  }

  function filterErrorLines(error, renamed) {
    // « Label : message » for the page filters' own errors (a layer may name them its own
    // way: `renamed`, layer's name → page's); [] when the error is not theirs.
    var errors = error && error.status === 400 && error.body && error.body.errors;
    var filterLabels = config.filterLabels || {};
    var lines = [];
    Object.keys(errors || {}).forEach(function (name) {
      var label = filterLabels[(renamed && renamed[name]) || name];
      if (!label) { return; }
      errors[name].forEach(function (message) {
        var line = label + " : " + message;
        if (lines.indexOf(line) < 0) { lines.push(line); }
      });
    });
    return lines;
  }

  // --- the map and its base -----------------------------------------------------------------

  var map = L.map(container, { zoomSnap: 1 });
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, { attribution: config.tileAttribution || "", maxZoom: 19 }).addTo(map);
  }
  // Open beside the map, folded on a narrow screen (it covered half of it at 320 px). The
  // link « Aller au choix des couches » reaches it past every marker.
  var narrow = window.matchMedia && window.matchMedia("(max-width: 36em)").matches;
  var control = L.control.layers(null, {}, { collapsed: narrow }).addTo(map);
  var layersBox = control.getContainer();
  layersBox.id = "map-layers";
  layersBox.setAttribute("tabindex", "-1");
  // Folded on a phone, the control opens when « Aller au choix des couches » reaches it, or
  // when its button is pressed from the keyboard, and the focus goes to its first box (the
  // button disappears as it opens: the focus fell back on the page); it folds again when the
  // focus leaves it.
  function firstLayerBox() {
    var input = layersBox.querySelector("input");
    if (input) { input.focus(); }
  }
  layersBox.addEventListener("focus", function () { control.expand(); });
  var layersToggle = layersBox.querySelector(".leaflet-control-layers-toggle");
  if (layersToggle) {
    layersToggle.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        control.expand();
        firstLayerBox();
      }
    });
  }
  layersBox.addEventListener("focusout", function (event) {
    if (narrow && !layersBox.contains(event.relatedTarget)) { control.collapse(); }
  });

  // The page's filters (status, product, channel, period) apply to the layers, as the page
  // read them (a period typed 01/11/2026 in the address comes as 2026-11-01).
  var pageQuery = new URLSearchParams();
  Object.keys(config.filters || {}).forEach(function (name) {
    config.filters[name].forEach(function (value) { pageQuery.append(name, value); });
  });

  function bboxQuery() {
    var bounds = map.getBounds();
    var clamp = function (value, limit) { return Math.max(-limit, Math.min(limit, value)); };
    var query = new URLSearchParams();
    query.set("bbox", [
      clamp(bounds.getWest(), 180).toFixed(5), clamp(bounds.getSouth(), 90).toFixed(5),
      clamp(bounds.getEast(), 180).toFixed(5), clamp(bounds.getNorth(), 90).toFixed(5)
    ].join(","));
    query.set("zoom", String(Math.max(0, Math.min(19, Math.round(map.getZoom())))));
    return query;
  }

  function copyParams(query, names, rename) {
    names.forEach(function (name) {
      pageQuery.getAll(name).forEach(function (value) {
        if (value) { query.append((rename && rename[name]) || name, value); }
      });
    });
    return query;
  }

  // --- the side panel -------------------------------------------------------------------------

  function resized(keep) {
    // The panel beside the map narrows it, and widens it again when it closes: Leaflet is
    // told, so that the layers are asked for the view shown and the map's centre (« Créer un
    // point au centre de la carte ») is the one seen. What is drawn stays where it was (no
    // pan), unless the point clicked would be left under the panel.
    map.invalidateSize({ pan: false });
    if (keep) { map.panInside(keep, { padding: [24, 24], animate: false }); }
  }

  function focusedMarkerKey() {
    var active = document.activeElement;
    var found = null;
    Object.keys(markersByKey).forEach(function (key) {
      var marker = markersByKey[key];
      if (marker.getElement && marker.getElement() === active) { found = key; }
    });
    return found;
  }

  function focusMarker(key) {
    var marker = markersByKey[key];
    var element = marker && marker.getElement ? marker.getElement() : null;
    if (element && document.body.contains(element)) { element.focus({ preventScroll: true }); }
  }

  function closePanel() {
    panel.hidden = true;
    panelBody.textContent = "";
    resized(null);
    // Back to what opened the panel (a marker, a link); when nothing did (the page opened on
    // ?point=) or it was redrawn since, to the point's marker, else to the map: never lost
    // on <body>.
    var target = lastFocus;
    if (!target || target === document.body || !document.body.contains(target)) {
      var opener = openedKey !== null ? markersByKey[openedKey] : null;
      var element = opener && opener.getElement ? opener.getElement() : null;
      target = element && document.body.contains(element) ? element : container;
    }
    target.focus();
  }

  function focusPanel() {
    // Focused without the browser's scroll, which centres an element taller than the screen
    // (a phone: the panel's title and « Fermer » were above it); its top brought into view
    // when it is not.
    panel.focus({ preventScroll: true });
    var top = panel.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight - 48) { window.scrollBy(0, top); }
  }

  function openPanel(pk, centre, latlng) {
    lastFocus = document.activeElement;
    openedKey = String(pk);
    panel.hidden = false;
    resized(latlng || null);
    panelBody.textContent = labels.labelLoading;
    fetch(config.panelUrl.replace("{pk}", encodeURIComponent(pk)), {
      credentials: "same-origin", headers: { Accept: "text/html" }
    })
      .then(function (response) {
        // Sent to the login page (the session ended): not a record to show.
        var status = response.redirected ? 401 : response.status;
        if (status !== 200) { var error = new Error(String(status)); error.status = status; throw error; }
        return response.text();
      })
      .then(function (html) {
        // A fragment rendered (and escaped) by the server's template.
        var parsed = new DOMParser().parseFromString(html, "text/html");
        panelBody.replaceChildren.apply(panelBody, Array.prototype.slice.call(parsed.body.childNodes));
        var record = panelBody.querySelector(".dealpoints-panel__record");
        if (centre && record && record.dataset.latitude) {
          map.setView([parseFloat(record.dataset.latitude), parseFloat(record.dataset.longitude)], 16);
        }
        focusPanel();
      })
      .catch(function (error) {
        // A point that does not exist, or that this role may not see, is not found (404):
        // not a layer that failed.
        if (signedOut(error)) { endSession(); }
        panelBody.textContent = signedOut(error) ? labels.sessionEndedMessage
          : error && error.status === 404 ? labels.notFoundMessage : labels.panelErrorMessage;
        focusPanel();
      });
  }

  panelClose.addEventListener("click", closePanel);

  // --- popups from the keyboard -----------------------------------------------------------------
  // A popup opened with Enter or Space takes the focus (its first link, else its close button),
  // as the side panel does: a keyboard user reached its link only past every other marker.
  // Escape closes it and gives the focus back to its marker or hexagon. A layer drawn again
  // while one of its popups is open (the popup's own pan asks for the view it opened on) opens
  // it again on the new marker, with the focus if the old one had it.
  var popups = {};  // per layer, the layers holding a popup by key: {layer, element}
  var openedPopup = null;  // {name, key, layer}
  var redrawing = false;

  function popupHasFocus(layer) {
    var box = layer.getPopup() && layer.getPopup().getElement();
    return Boolean(box && box.contains(document.activeElement));
  }

  function focusPopup(layer) {
    var box = layer.getPopup() && layer.getPopup().getElement();
    if (!box) { return; }
    var target = box.querySelector(".leaflet-popup-content a[href]") || box.querySelector(".leaflet-popup-close-button");
    if (target) { target.focus(); }
  }

  function withPopup(name, key, layer, element) {
    // `layer` holds the popup (a marker, a hexagon's GeoJSON group); `element` is what Tab
    // reaches (the marker's icon, the hexagon's path).
    popups[name][key] = { layer: layer, element: element };
    layer.keyboardElement = element;  // drawn again (a layer switched off and on): its new one
    if (layer.keyboardPopup) { return; }
    layer.keyboardPopup = true;
    layer.on("popupopen", function () { openedPopup = { name: name, key: key, layer: layer }; });
    layer.on("popupclose", function () {
      if (redrawing || !openedPopup || openedPopup.layer !== layer) { return; }
      var focused = popupHasFocus(layer) || document.activeElement === document.body;
      var opener = layer.keyboardElement;
      openedPopup = null;
      if (focused && document.body.contains(opener)) { opener.focus({ preventScroll: true }); }
    });
  }

  function openPopupByKeyboard(layer, latlng) {
    layer.openPopup(latlng);
    focusPopup(layer);
  }

  function popupOnKeys(element, open) {
    // Enter or Space on a focused marker or hexagon (a button) opens it; Space does not scroll
    // the page.
    if (element.dataset.keyboard) { return; }
    element.dataset.keyboard = "on";
    element.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open();
      }
    });
  }

  function redraw(name, holder, draw) {
    // Draws a layer's new answer; its open popup, if any, is opened again on its new marker.
    var reopen = openedPopup && openedPopup.name === name ? openedPopup : null;
    var latlng = reopen ? reopen.layer.getPopup().getLatLng() : null;
    var focused = reopen ? popupHasFocus(reopen.layer) : false;
    redrawing = true;
    holder.clearLayers();
    redrawing = false;
    if (reopen) { openedPopup = null; }
    popups[name] = {};
    draw();
    var again = reopen ? popups[name][reopen.key] : null;
    if (again) {
      again.layer.openPopup(latlng);
      if (focused) { focusPopup(again.layer); }
    } else if (focused && container) {
      container.focus();  // its marker left the view: the focus stays on the map
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    // Only from the map, its popups and the panel (or nowhere in particular): Escape in the
    // filters' date field closed the panel and took the focus to the map.
    var target = event.target;
    if (target !== document.body && !panel.contains(target) && !container.contains(target)) { return; }
    // The popup first (it may be open beside the panel), then the panel.
    if (openedPopup) { map.closePopup(); return; }
    if (!panel.hidden) { closePanel(); }
  });

  // --- features -------------------------------------------------------------------------------

  function ringCentre(feature) {
    // [longitude, latitude]: the mean of a hexagon's corners (its first ring closes on its
    // first corner, counted once).
    var corners = feature.geometry.coordinates[0].slice(0, -1);
    var longitude = 0;
    var latitude = 0;
    corners.forEach(function (corner) { longitude += corner[0]; latitude += corner[1]; });
    return [longitude / corners.length, latitude / corners.length];
  }

  function nested(feature, scale) {
    // Layers aggregate on the same H3 cells: a layer's hexagon is drawn shrunk toward its
    // centre by its layer's scale, so that each layer's hexagon of a cell stays seen and
    // clickable, nested in the one of the layer before (the feature itself keeps the cell's
    // true corners: its centre and its popup say the cell).
    if (!scale || scale === 1) { return feature; }
    var centre = ringCentre(feature);
    var shrunk = feature.geometry.coordinates[0].map(function (corner) {
      return [centre[0] + (corner[0] - centre[0]) * scale, centre[1] + (corner[1] - centre[1]) * scale];
    });
    return { type: "Feature", properties: feature.properties, geometry: { type: "Polygon", coordinates: [shrunk] } };
  }

  function hexagonStyle(colour, max) {
    return function (feature) {
      var share = max > 0 ? feature.properties.count / max : 0;
      return { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.15 + 0.6 * share };
    };
  }

  function breakdown(properties, name) {
    // A hexagon's counts per status (per kind for operations), as lines « Confirmé : 4 »; the
    // categories a counts-only role is not told (under three) are said as not detailed.
    var names = (config.categoryLabels || {})[name] || {};
    var counts = properties.by_status || {};
    var told = 0;
    var lines = Object.keys(counts).map(function (category) {
      told += counts[category];
      return (names[category] || category) + " : " + counts[category];
    });
    if (told < properties.count) { lines.push(labels.labelOthers); }
    return lines;
  }

  function hexagonName(properties) {
    return properties.label || properties.place || properties.cell;
  }

  function nameHexagons(features, kind) {
    // Hexagons named after one commune are numbered (« Marseille 13e Arrondissement (2 sur
    // 5) »): five table rows, and five keyboard stops, read alike. Numbered in the order
    // given (the hotspots': strongest first).
    kind = kind || "hexagon";
    var totals = {};
    var seen = {};
    features.forEach(function (feature) {
      var p = feature.properties;
      if (p.kind === kind) { totals[p.place || p.cell] = (totals[p.place || p.cell] || 0) + 1; }
    });
    features.forEach(function (feature) {
      var p = feature.properties;
      var name = p.place || p.cell;
      if (p.kind !== kind || totals[name] < 2) { return; }
      seen[name] = (seen[name] || 0) + 1;
      p.label = fill(labels.labelNumbered, { name: name, n: seen[name], total: totals[name] });
    });
  }

  function hexagonTitle(properties, name) {
    // The layer named last: two layers' hexagons differ on the map by their colour only.
    return labels.labelHexagon + " – " + hexagonName(properties) + " : " + countText(properties.count) + " (" + layerLabel(name) + ")";
  }

  function hexagonPopup(feature, name) {
    var box = node("div");
    box.appendChild(node("strong", hexagonTitle(feature.properties, name)));
    var list = node("ul");
    breakdown(feature.properties, name).forEach(function (line) { list.appendChild(node("li", line)); });
    box.appendChild(list);
    return box;
  }

  function reachableByKeyboard(name, key, hexagon, title) {
    // A hexagon (an SVG path) is focusable with Tab and opens its popup with Enter or Space,
    // as a marker does: its counts per status are not for the mouse only. (The popup is the
    // hexagon's GeoJSON group's; its shape is the path.)
    hexagon.eachLayer(function (shape) {
      var element = shape.getElement && shape.getElement();
      if (!element) { return; }
      element.setAttribute("tabindex", "0");
      element.setAttribute("role", "button");
      element.setAttribute("aria-label", title);
      withPopup(name, key, hexagon, element);
      popupOnKeys(element, function () { openPopupByKeyboard(hexagon, shape.getCenter()); });
    });
  }

  function link(text, href) {
    var element = node("a", text);
    element.href = href;
    return element;
  }

  // Deal points are drawn above the other layers' markers (a report or an operation at the
  // same place never hides the point: a click opens the point).
  var DEALPOINT_ABOVE = 100000;

  function marker(latlng, shape, status, title, offset) {
    // `offset`: [x, y] in pixels from the position, for markers that share it (spread()).
    var shift = offset || [0, 0];
    return L.marker(latlng, {
      icon: L.divIcon({
        className: "dealpoints-marker dealpoints-marker--" + shape + " dealpoints-marker--" + status,
        iconSize: [16, 16],
        iconAnchor: [8 - shift[0], 8 - shift[1]],
        popupAnchor: [shift[0], shift[1] - 8]
      }),
      title: title,
      alt: title,
      keyboard: true,
      zIndexOffset: shape === "dealpoint" ? DEALPOINT_ABOVE : 0
    });
  }

  // Markers at one position (a landlord's points drawn at their building, an operation on its
  // point, several operations of one point) are spread around it, a few pixels apart, so that
  // each can be seen and clicked; always in the same order (the server's), so the same
  // marker is always at the same place. Operations always stand beside their point (to its
  // right first), never on it.
  var SPREAD = { operations: 18 };

  function spread(features, name) {
    var groups = {};
    features.forEach(function (feature) {
      if (feature.properties.kind === "hexagon" || !feature.geometry) { return; }
      var c = feature.geometry.coordinates;
      var key = Number(c[1]).toFixed(6) + "," + Number(c[0]).toFixed(6);
      (groups[key] = groups[key] || []).push(feature);
    });
    var offsets = new Map();
    var base = SPREAD[name] || 0;
    Object.keys(groups).forEach(function (key) {
      var group = groups[key];
      var n = group.length;
      if (n < 2 && !base) { return; }
      // Centres at least 18 px apart (markers are 16 px wide).
      var radius = Math.max(base || 10, n > 1 ? 9 / Math.sin(Math.PI / n) : 0);
      var start = base ? 0 : -Math.PI / 2;
      group.forEach(function (feature, index) {
        var angle = start + (2 * Math.PI * index) / n;
        offsets.set(feature, [Math.round(radius * Math.cos(angle)), Math.round(radius * Math.sin(angle))]);
      });
    });
    return offsets;
  }

  var layers = {};
  var rows = {};

  function renderTable() {
    var body = table.querySelector("tbody");
    body.textContent = "";
    var count = 0;
    // The layers in one order, not in the order their answers came.
    var names = STATUS_SOURCES.filter(function (name) { return rows[name]; }).concat(
      Object.keys(rows).filter(function (name) { return STATUS_SOURCES.indexOf(name) < 0; }).sort()
    );
    names.forEach(function (name) {
      rows[name].forEach(function (cells) {
        // Layer, element, status or count, detail (a hexagon's counts per status, a date). An
        // element the reader may open is a link to its page ({text, href}): a screen-reader
        // user reaches each record from the table, without going through the markers.
        var row = node("tr");
        for (var index = 0; index < 4; index += 1) {
          var value = cells[index];
          var td = node("td");
          if (value && typeof value === "object") {
            if (value.href) { td.appendChild(link(value.text, value.href)); } else { td.textContent = value.text; }
          } else {
            td.textContent = value || "";
          }
          row.appendChild(td);
        }
        body.appendChild(row);
        count += 1;
      });
    });
    if (!count) {
      // An empty map says so, and what to do, rather than a dash.
      var empty = node("tr");
      var cell = node("td", labels.labelEmpty || "—");
      cell.colSpan = 4;
      empty.appendChild(cell);
      body.appendChild(empty);
    }
  }

  function pointLayer(name, collection, build) {
    var group = L.featureGroup();
    var tableRows = [];
    var hexagons = [];
    var max = 0;
    collection.features.forEach(function (feature) {
      if (feature.properties.kind === "hexagon") { max = Math.max(max, feature.properties.count); }
    });
    nameHexagons(collection.features);
    var offsets = spread(collection.features, name);
    collection.features.forEach(function (feature) {
      var properties = feature.properties;
      if (properties.kind === "hexagon") {
        var hexagon = L.geoJSON(nested(feature, build.scale), { style: hexagonStyle(build.colour, max), className: "dealpoints-hexagon dealpoints-hexagon--" + name });
        hexagon.bindPopup(function () { return hexagonPopup(feature, name); });
        hexagon.addTo(group);
        hexagons.push([hexagon, hexagonTitle(properties, name), properties.cell]);
        tableRows.push([
          layerLabel(name),
          labels.labelHexagon + " – " + hexagonName(properties),
          countText(properties.count),
          breakdown(properties, name).join(" ; ")
        ]);
        return;
      }
      var latlng = [feature.geometry.coordinates[1], feature.geometry.coordinates[0]];
      var item = build.point(feature, latlng, offsets.get(feature));
      if (item.getPopup()) {
        // A report, an operation, a proposal: its popup opens from the keyboard too.
        item.on("add", function () {
          var element = item.getElement();
          if (!element) { return; }
          withPopup(name, String(properties.id), item, element);
          popupOnKeys(element, function () { openPopupByKeyboard(item); });
        });
      }
      item.addTo(group);
      tableRows.push(build.row(feature));
    });
    rows[name] = tableRows;
    say(name, collection.meta && collection.meta.truncated ? fill(labels.truncatedMessage, { layer: layerLabel(name) }) : "");
    // Their SVG paths exist once the group is on the map.
    group.on("add", function () {
      hexagons.forEach(function (made) { reachableByKeyboard(name, made[2], made[0], made[1]); });
    });
    return group;
  }

  function dealpointDetail(p) {
    // A landlord's point: the week of its last report, as the list says it; otherwise the
    // day of the last activity.
    if (p.last_activity_week) { return fill(labels.labelLastReport, { date: frenchDate(p.last_activity_week) }); }
    if (p.last_activity) { return fill(labels.labelLastActivity, { date: frenchDate(p.last_activity) }); }
    return "";
  }

  function proposalPlace(p) {
    // A proposal is known by where it is, how precisely and since when, never by its id.
    return [p.place, p.precision_label, fill(labels.labelCreated, { date: frenchDate(p.created) })]
      .filter(Boolean).join(", ");
  }

  function proposalName(p) {
    return labels.labelProposal + " – " + proposalPlace(p);
  }

  var builders = {
    // Hexagons of the same cell nest: the deal points' whole, then each layer's smaller.
    dealpoints: {
      colour: "#000091",
      scale: 1,
      point: function (feature, latlng, offset) {
        var p = feature.properties;
        // A landlord's points carry their partner code instead of their id and reference.
        var key = p.code || p.id;
        var item = marker(latlng, "dealpoint", p.status, [p.reference || p.code, p.status_label, dealpointDetail(p)].filter(Boolean).join(" – "), offset);
        markersByKey[String(key)] = item;
        item.on("click", function () { openPanel(key, false, item.getLatLng()); });
        // Keyboard: Enter or Space on a focused marker (a button) opens the record too, as
        // on a hexagon; Space does not scroll the page.
        item.on("add", function () {
          var element = item.getElement();
          if (element) { popupOnKeys(element, function () { openPanel(key, false, item.getLatLng()); }); }
        });
        return item;
      },
      row: function (feature) {
        var p = feature.properties;
        // No activity known: « — », as the list says it (an empty cell read as missing data).
        return [labels.labelDealpoints, { text: p.reference || p.code, href: p.url }, p.status_label, dealpointDetail(p) || "—"];
      }
    },
    reports: {
      colour: "#6a6af4",
      scale: 0.78,
      point: function (feature, latlng, offset) {
        var p = feature.properties;
        var received = fill(labels.labelReceived, { date: frenchDate(p.received) });
        var item = marker(latlng, "report", p.status, p.reference + " – " + p.status_label + " – " + received, offset);
        item.bindPopup(function () {
          var box = node("div");
          box.appendChild(node("p", p.reference + " – " + p.status_label + " – " + received));
          // Sent only to those who may open the report (the layer decides).
          if (p.url) { box.appendChild(link(labels.labelOpenReport + " " + p.reference, p.url)); }
          return box;
        });
        return item;
      },
      row: function (feature) {
        var p = feature.properties;
        return [labels.labelReports, { text: p.reference, href: p.url }, p.status_label, fill(labels.labelReceived, { date: frenchDate(p.received) })];
      }
    },
    operations: {
      colour: "#161616",
      scale: 0.56,
      point: function (feature, latlng, offset) {
        var p = feature.properties;
        var title = fill(labels.labelOperationOn, { kind: p.kind_label, date: frenchDate(p.occurred_on) });
        var item = marker(latlng, "operation", p.operation_kind, title + " – " + p.dealpoint_reference, offset);
        item.bindPopup(function () {
          var box = node("div");
          box.appendChild(node("p", title + " – " + p.dealpoint_reference));
          // Sent only to those who may open the point (the layer decides).
          if (p.dealpoint_url) {
            box.appendChild(link(fill(labels.labelOpenPoint, { reference: p.dealpoint_reference }), p.dealpoint_url));
          }
          return box;
        });
        return item;
      },
      row: function (feature) {
        var p = feature.properties;
        return [labels.labelOperations, { text: p.dealpoint_reference, href: p.dealpoint_url }, p.kind_label, frenchDate(p.occurred_on)];
      }
    },
    proposals: {
      colour: "#009081",
      scale: 0.34,
      point: function (feature, latlng, offset) {
        var p = feature.properties;
        var item = marker(latlng, "proposal", "open", proposalName(p), offset);
        item.bindPopup(function () {
          var box = node("div");
          box.appendChild(node("p", proposalName(p)));
          var list = node("ul");
          [[labels.labelAccept, p.accept_url], [labels.labelQueueItem, p.queue_url]].forEach(function (pair) {
            var link = node("a", pair[0]);
            link.href = pair[1];
            var entry = node("li");
            entry.appendChild(link);
            list.appendChild(entry);
          });
          box.appendChild(list);
          return box;
        });
        return item;
      },
      row: function (feature) {
        var p = feature.properties;
        // The link names the proposal whole: two proposals of one commune differ by their
        // precision or their day, and a screen reader listing the links hears which is which.
        return [labels.labelProposals, { text: fill(labels.labelAcceptAt, { place: proposalPlace(p) }), href: p.accept_url }, "", p.precision_label];
      }
    }
  };

  function allowedPeriod() {
    return ["active_from", "active_to"].filter(function (name) {
      return (config.layerFilters || []).indexOf(name) >= 0;
    });
  }

  var RENAMES = {
    reports: { active_from: "received_from", active_to: "received_to" },
    operations: { active_from: "period_from", active_to: "period_to" },
    hotspots: { active_from: "period_from", active_to: "period_to" }
  };
  var LAYER_QUERIES = {
    // Every filter of the page's address, a misspelt one too: the layer refuses it (said above
    // the map) rather than draw the points unfiltered.
    dealpoints: function (query) { return copyParams(query, Object.keys(config.filters || {})); },
    // The period, if this role may filter on it (config.layerFilters): a filter refused to it
    // is said by the dealpoints layer, never sent to these.
    reports: function (query) { return copyParams(query, allowedPeriod(), RENAMES.reports); },
    operations: function (query) { return copyParams(query, allowedPeriod(), RENAMES.operations); },
    proposals: function (query) { return query; }
  };

  function pageNames(layer) {
    // A layer's parameter names → the page's (received_to → active_to).
    var names = {};
    Object.keys(RENAMES[layer] || {}).forEach(function (name) { names[RENAMES[layer][name]] = name; });
    return names;
  }

  var holders = {};
  var requestIds = {};
  var lastQueries = {};
  var switchedOff = {};

  // Hexagons of several layers on one cell, whichever layer answered last: the deal points'
  // below, each next layer's smaller one above (nested: `nested`), the hotspots beneath them
  // all (an analysis the items are read on, listed under the map too).
  var backdrops = [];
  function stack() {
    // Moving a path in the SVG takes the focus from it: a hexagon reached with Tab keeps it.
    var focused = document.activeElement;
    backdrops.forEach(function (backdrop) {
      if (map.hasLayer(backdrop)) { backdrop.eachLayer(function (group) { group.bringToBack(); }); }
    });
    Object.keys(builders).forEach(function (name) {
      var holder = holders[name];
      if (holder && map.hasLayer(holder)) { holder.eachLayer(function (group) { group.bringToFront(); }); }
    });
    if (focused && focused !== document.activeElement && container.contains(focused)) { focused.focus(); }
  }

  function reload(name, force) {
    var holder = holders[name];
    if (!holder || !map.hasLayer(holder)) { return; }
    var query = LAYER_QUERIES[name](bboxQuery());
    // The same view asked again (Leaflet ends a first fitBounds with two "moveend"): once.
    if (!force && lastQueries[name] === query.toString()) { return; }
    lastQueries[name] = query.toString();
    var id = (requestIds[name] || 0) + 1;
    requestIds[name] = id;
    fetchJson(config.api[name] + "?" + query.toString())
      .then(function (collection) {
        if (requestIds[name] !== id) { return; }  // a newer view answered first
        // Switched off meanwhile (a kept view's layers applied after its first request): its
        // rows and its sentence are not brought back.
        if (!map.hasLayer(holder)) { return; }
        // A marker that has the focus (the panel closed back to it, Tab reached it) is drawn
        // again: the focus goes to its new marker, not to <body> with the old one.
        var focusedKey = name === "dealpoints" ? focusedMarkerKey() : null;
        redraw(name, holder, function () {
          // Only the markers drawn now are known by their key (not every one since the page
          // opened).
          if (name === "dealpoints") { markersByKey = {}; }
          pointLayer(name, collection, builders[name]).addTo(holder);
        });
        stack();
        if (focusedKey !== null) { focusMarker(focusedKey); }
        renderTable();
        if (name === "dealpoints") {
          // What the page said of its own filters stays (it was cleared as the points drew).
          if (!config.pageFilterErrors) { showFilterErrors([]); }
          // No point in the view (filters that select none, a view beside the points): said
          // under the map, where an empty map otherwise says nothing.
          if (!collection.features.length) { say(name, labels.emptyDealpointsMessage); }
        }
      })
      .catch(function (error) {
        if (requestIds[name] !== id) { return; }
        delete lastQueries[name];  // asked again, the same view is tried again
        if (!map.hasLayer(holder)) { return; }
        if (sessionEnded) { say(name, ""); return; }  // said once, above the map
        var lines = filterErrorLines(error, pageNames(name));
        // A 400 where the page has said its filters' errors (a misspelt filter the layer
        // refuses, which has no label here) is theirs: not a layer that failed to load.
        if (lines.length || (config.pageFilterErrors && error && error.status === 400)) {
          // Nothing is drawn rather than points the filters do not select.
          holder.clearLayers();
          rows[name] = [];
          renderTable();
          // The page already said its filters' errors, in its fields' words (French labels,
          // not the API's codes): the same error is not said twice in two ways.
          if (!config.pageFilterErrors) { showFilterErrors(lines); }
          say(name, "");
        } else {
          say(name, layerError(name));
        }
      });
  }

  Object.keys(builders).forEach(function (name) {
    if (!config.api[name]) { return; }
    var holder = L.layerGroup();
    holders[name] = holder;
    control.addOverlay(holder, layerLabel(name));
    if (name === "dealpoints") { holder.addTo(map); }
  });

  map.on("overlayadd", function (event) {
    // Switched back on: its rows were dropped from the table, so it is asked again even for the
    // same view; on the map's first view, the "moveend" that came just before has asked.
    Object.keys(holders).forEach(function (name) {
      if (holders[name] === event.layer) { reload(name, Boolean(switchedOff[name])); switchedOff[name] = false; }
    });
    stack();  // a layer shown again is drawn over the others until then
  });
  map.on("overlayremove", function (event) {
    Object.keys(holders).forEach(function (name) {
      if (holders[name] === event.layer) { rows[name] = []; switchedOff[name] = true; renderTable(); say(name, ""); }
    });
  });
  map.on("moveend", function () { Object.keys(holders).forEach(function (name) { reload(name); }); });

  // --- hotspots (one département) ---------------------------------------------------------------

  function strongestFirst(a, b) {
    // Hot cells first, then cold ones; within each, the farthest from chance first (|z|,
    // then p), then by cell (a stable order, whatever the order received).
    var pa = a.properties;
    var pb = b.properties;
    var hot = (pa["class"] === "hot" ? 0 : 1) - (pb["class"] === "hot" ? 0 : 1);
    if (hot) { return hot; }
    if (Math.abs(pb.z) !== Math.abs(pa.z)) { return Math.abs(pb.z) - Math.abs(pa.z); }
    if (pa.p !== pb.p) { return pa.p - pb.p; }
    return pa.cell < pb.cell ? -1 : (pa.cell > pb.cell ? 1 : 0);
  }

  function hotspotStatistics(p) {
    // « z 3,64 ; p < 0,001 », « z 2,81 ; p 0,0012 ».
    var pText = p.p < P_FLOOR ? "< " + P_FORMAT.format(P_FLOOR) : P_FORMAT.format(p.p);
    return fill(labels.labelHotspotStatistics, { z: Z_FORMAT.format(p.z), p: pText });
  }

  function hexagonCentre(feature) {
    // « centre 43,5297° N, 5,4474° E ».
    var centre = ringCentre(feature);
    var longitude = centre[0];
    var latitude = centre[1];
    return fill(labels.labelCentre, {
      latitude: DEGREES_FORMAT.format(Math.abs(latitude)) + "° " + (latitude < 0 ? labels.labelSouth : labels.labelNorth),
      longitude: DEGREES_FORMAT.format(Math.abs(longitude)) + "° " + (longitude < 0 ? labels.labelWest : labels.labelEast)
    });
  }

  var hotspotDepartement = config.focusDepartement || (config.boundaryDepartements.length === 1 ? config.boundaryDepartements[0] : "");
  if (config.api.hotspots && hotspotDepartement) {
    var hotspots = L.layerGroup();
    backdrops.push(hotspots);
    control.addOverlay(hotspots, labels.labelHotspots);
    var loaded = false;
    var hotspotRows = [];
    var hotspotSummary = "";
    map.on("overlayremove", function (event) {
      if (event.layer !== hotspots) { return; }
      delete rows.hotspots;
      renderTable();
      say("hotspots", "");
    });
    map.on("overlayadd", function (event) {
      if (event.layer !== hotspots) { return; }
      if (loaded) {
        // Shown again: its cells back in the table, its summary said again.
        rows.hotspots = hotspotRows;
        renderTable();
        say("hotspots", hotspotSummary);
        return;
      }
      loaded = true;
      // The page's filters, as the dealpoints layer receives them (status, product, channel,
      // the period renamed period_from/period_to), those this role may use
      // (config.hotspotFilters); the sentence under the legend says what they count.
      var query = copyParams(new URLSearchParams(), config.hotspotFilters || [], RENAMES.hotspots);
      query.set("departement", hotspotDepartement);
      fetchJson(config.api.hotspots + "?" + query.toString()).then(function (collection) {
        var meta = collection.meta || {};
        var cells = String(collection.features.length);
        var hot = Number(meta.hot || 0);
        var cold = Number(meta.cold || 0);
        var template = hot + cold > 0 ? labels.labelHotspotsFound
          : collection.features.length ? labels.labelHotspotsNone : labels.labelHotspotsEmpty;
        hotspotSummary = template.replace("%(hot)s", String(hot)).replace("%(cold)s", String(cold)).replace("%(cells)s", cells);
        // Switched off before the answer came: kept for when it is switched on again.
        var shown = map.hasLayer(hotspots);
        if (shown) { say("hotspots", hotspotSummary); }
        // The significant cells, strongest first, numbered within their commune and placed
        // by their centre: seven rows « Hexagone – Aix-en-Provence | 5 éléments » read alike.
        var significant = collection.features.filter(function (feature) {
          return feature.properties["class"] !== "not_significant";
        }).sort(strongestFirst);
        significant.forEach(function (feature) {
          // A neighbour counted as zero has no commune to be named after: not its H3 id.
          if (!feature.properties.place) { feature.properties.place = labels.labelNoElement; }
        });
        nameHexagons(significant, "hotspot");
        significant.forEach(function (feature) {
          var p = feature.properties;
          hotspotRows.push([
            p["class"] === "hot" ? labels.labelHot : labels.labelCold,
            labels.labelHexagon + " – " + hexagonName(p),
            countText(p.count),
            hotspotStatistics(p) + " ; " + hexagonCentre(feature)
          ]);
        });
        if (shown) {
          rows.hotspots = hotspotRows;
          renderTable();
        }
        L.geoJSON({ type: "FeatureCollection", features: significant }, {
          style: function (feature) {
            var colour = HOTSPOT_COLOURS[feature.properties.class];
            return { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.45 };
          },
          onEachFeature: function (feature, layer) {
            var p = feature.properties;
            var name = p["class"] === "hot" ? labels.labelHot : labels.labelCold;
            layer.bindPopup(node("span", [name, hexagonName(p), countText(p.count), hotspotStatistics(p)].join(" – ")));
          }
        }).addTo(hotspots);
        stack();
      }).catch(function (error) {
        // Switched off and on again, the layer is asked again (its error stays until then).
        loaded = false;
        hotspotRows = [];
        if (!map.hasLayer(hotspots)) { return; }
        // A filter the layer refuses is said beside the filters, as the dealpoints layer says it.
        var lines = filterErrorLines(error, pageNames("hotspots"));
        if (lines.length) {
          // Not over the page's own lines (its fields' words), as for the other layers.
          if (!config.pageFilterErrors) { showFilterErrors(lines); }
        } else {
          say("hotspots", layerError("hotspots"));
        }
      });
    });
  }

  // --- boundaries -------------------------------------------------------------------------------

  function boundaries(code, kind, style) {
    var query = new URLSearchParams({ departement: code, kind: kind });
    return fetchJson(config.api.boundaries + "?" + query.toString()).then(function (collection) {
      return L.geoJSON(collection, {
        style: function () { return style; },
        interactive: false
      });
    });
  }

  var communes = L.layerGroup();
  var qpv = L.layerGroup();
  var departements = L.layerGroup().addTo(map);
  control.addOverlay(communes, labels.labelCommunes);
  control.addOverlay(qpv, labels.labelQpv);
  control.addOverlay(departements, labels.labelDepartements);
  communes.addTo(map);

  // The priority neighbourhoods are imported by an administrator (manage.py import_qpv): the
  // layer switched on says why it draws nothing, none imported or none in the départements
  // drawn (a territory too wide to draw its boundaries draws none: nothing to say then).
  var qpvCount = 0;
  map.on("overlayremove", function (event) { if (event.layer === qpv) { say("qpv", ""); } });
  map.on("overlayadd", function (event) {
    if (event.layer !== qpv || !config.boundaryDepartements.length) { return; }
    Promise.all(pending).then(function () {
      if (qpvCount || !map.hasLayer(qpv)) { return; }
      say("qpv", config.qpvImported ? labels.qpvNoneHereMessage : labels.qpvNoneMessage);
    }, function () { /* a boundary that failed to load is said by the start below */ });
  });

  var pending = config.boundaryDepartements.map(function (code) {
    return Promise.all([
      // Lines, not the tinted fill of the hexagons (a commune read as a hexagon count).
      boundaries(code, "communes", { color: "#666666", weight: 1, dashArray: "4 4", fill: false }).then(function (layer) { layer.addTo(communes); return layer; }),
      boundaries(code, "qpv", { color: "#ce0500", weight: 2, dashArray: "6 4", fillColor: "#ce0500", fillOpacity: 0.08 }).then(function (layer) { qpvCount += layer.getLayers().length; layer.addTo(qpv); return layer; }),
      boundaries(code, "departement", { color: "#161616", weight: 2, fill: false }).then(function (layer) { layer.addTo(departements); return layer; })
    ]);
  });

  // The legend names what the map draws: a layer switched off takes its lines away (the
  // reports' circle was explained with no report on the map), switched on brings them back.
  var legendLayers = { communes: communes, qpv: qpv, departements: departements, hotspots: hotspots };
  Object.keys(holders).forEach(function (name) { legendLayers[name] = holders[name]; });
  function syncLegend() {
    // The sentence saying what the hotspots count follows their layer too.
    Array.prototype.forEach.call(document.querySelectorAll("#map-legend [data-layer], #map-hotspots-scope, .dealpoints-layer-scope"), function (line) {
      var layer = legendLayers[line.dataset.layer];
      line.hidden = !(layer && map.hasLayer(layer));
    });
  }
  map.on("overlayadd overlayremove", syncLegend);
  syncLegend();

  // The view is kept in the address's fragment (#zoom/latitude/longitude/layers: never sent to
  // the server), and the filter form carries it: « Appliquer les filtres », « Effacer », or a
  // reload, comes back to the zoom, the place and the layers the reader had on (it came back
  // to the whole territory, at another resolution, and to the deal points alone: a
  // prefecture read other hexagons as other numbers, the reports switched on were gone).
  var VIEW = /^#(\d{1,2})\/(-?\d{1,2}\.\d+)\/(-?\d{1,3}\.\d+)(?:\/([a-z,]*))?$/;
  var filterForm = document.getElementById("map-filters");
  function keptView() {
    var match = VIEW.exec(window.location.hash);
    if (!match) { return null; }
    var zoom = parseInt(match[1], 10);
    var centre = [parseFloat(match[2]), parseFloat(match[3])];
    if (zoom > 19 || Math.abs(centre[0]) > 90 || Math.abs(centre[1]) > 180) { return null; }
    return { zoom: zoom, centre: centre, layers: match[4] === undefined ? null : match[4].split(",") };
  }
  function shownLayers() {
    // The layers switched on, by their names in legendLayers (the fragment's words).
    return Object.keys(legendLayers).filter(function (name) {
      return legendLayers[name] && map.hasLayer(legendLayers[name]);
    }).sort();
  }
  function showLayers(names) {
    // Switches each layer on or off as a kept view says (a layer this role does not have is
    // ignored); the layers control's boxes follow.
    Object.keys(legendLayers).forEach(function (name) {
      var layer = legendLayers[name];
      if (!layer) { return; }
      var wanted = names.indexOf(name) >= 0;
      if (wanted && !map.hasLayer(layer)) { map.addLayer(layer); }
      if (!wanted && map.hasLayer(layer)) { map.removeLayer(layer); }
    });
  }
  function keepView() {
    var centre = map.getCenter();
    var view = "#" + Math.round(map.getZoom()) + "/" + centre.lat.toFixed(5) + "/" + centre.lng.toFixed(5) + "/" + shownLayers().join(",");
    if (window.history && window.history.replaceState) {
      window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search + view);
    }
    if (filterForm) {
      filterForm.setAttribute("action", filterForm.getAttribute("action").split("#")[0] + view);
    }
    // « Effacer » keeps the view too.
    var clear = document.getElementById("map-filters-clear");
    if (clear) { clear.setAttribute("href", clear.getAttribute("href").split("#")[0] + view); }
  }
  var viewSet = false;
  map.on("moveend", keepView);
  map.on("overlayadd overlayremove", function () { if (viewSet) { keepView(); } });
  // A view typed or pasted in the address bar of the open page (only its fragment changed:
  // no reload) is shown too.
  window.addEventListener("hashchange", function () {
    var kept = keptView();
    if (!kept || !viewSet) { return; }
    map.setView(kept.centre, kept.zoom);
    if (kept.layers) { showLayers(kept.layers); }
  });

  function start(bounds) {
    var kept = config.point ? null : keptView();
    if (kept) {
      map.setView(kept.centre, kept.zoom);
      if (kept.layers) { showLayers(kept.layers); }
    } else if (config.startBounds && !config.focusDepartement) {
      // A landlord: its own buildings, close enough to tell its points apart.
      map.fitBounds(L.latLngBounds(config.startBounds), { maxZoom: 17, padding: [40, 40] });
    } else if (bounds && bounds.isValid()) {
      map.fitBounds(bounds);
    } else {
      map.setView(FRANCE, 6);
    }
    if (config.point) { openPanel(config.point, true); }
    viewSet = true;
    keepView();
    busyEnd();  // the first view is set: what it asked for keeps the map busy until drawn
  }

  if (!pending.length) {
    start(null);
  } else {
    Promise.all(pending).then(function (loadedLayers) {
      var bounds = L.latLngBounds([]);
      loadedLayers.forEach(function (trio) {
        var focus = trio[0].getBounds();
        if (focus.isValid()) { bounds.extend(focus); }
      });
      start(bounds);
    }).catch(function () {
      say("boundaries", labels.errorMessage);
      start(null);
    });
  }

  // --- create a point here (analysts) -------------------------------------------------------------

  if (config.createUrl) {
    // Keyboard (and everyone): the link under the map creates a point at the map's centre,
    // kept up to date as the map moves; the form's own map then places it precisely.
    var createHere = document.getElementById("map-create-centre");
    if (createHere) {
      var followCentre = function () {
        var centre = map.getCenter();
        createHere.href = config.createUrl + "?" + new URLSearchParams({
          latitude: centre.lat.toFixed(6),
          longitude: centre.lng.toFixed(6)
        }).toString();
      };
      map.on("moveend", followCentre);
      map.whenReady(followCentre);
    }
    map.on("click", function (event) {
      var link = node("a", labels.labelCreate);
      var query = new URLSearchParams({
        latitude: event.latlng.lat.toFixed(6),
        longitude: event.latlng.lng.toFixed(6)
      });
      link.href = config.createUrl + "?" + query.toString();
      L.popup().setLatLng(event.latlng).setContent(link).openOn(map);
    });
  }
})();
