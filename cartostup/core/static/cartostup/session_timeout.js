/* Cartostup – warns before a staff session is closed for inactivity (RGAA 13.1, WCAG 2.2.1),
 * with a « Prolonger la session » button that asks the server to keep it
 * (POST accounts:session_keepalive). Someone typing in a form of the page is not inactive: when
 * the warning would come, a keystroke since the last request keeps the session without a
 * word (an operator keying in a long call loses nothing); an unattended screen still ends. The moment of the last activity is shared between the
 * tabs of the browser (localStorage: a time, nothing else), since a request from any tab keeps
 * the session. Only on staff pages (partials/session_timeout.html), never the public ones.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 */
(function () {
  "use strict";

  var root = document.getElementById("session-timeout");
  var modal = document.getElementById("session-timeout-modal");
  if (!root || !modal) { return; }
  var data = root.dataset;
  // Said expired a little after the server's limit (whole seconds, "more than"), so that the
  // page never says so while the server would still keep the session.
  var idle = parseInt(data.idleSeconds, 10) * 1000 + 2000;
  var warning = parseInt(data.warningSeconds, 10) * 1000;
  if (!(idle > 0)) { return; }
  var KEY = "cartostup.lastActivity";
  var status = document.getElementById("session-timeout-status");
  var text = document.getElementById("session-timeout-text");
  var title = document.getElementById("session-timeout-title");
  var extend = document.getElementById("session-timeout-extend");
  var relogin = document.getElementById("session-timeout-login");
  var token = root.querySelector("input[name=csrfmiddlewaretoken]");
  var timer = null;
  var shown = false;
  var expired = false;
  var typedAt = 0;
  var keeping = false;

  function now() { return Date.now(); }

  function lastActivity() {
    var stored = 0;
    try { stored = parseInt(window.localStorage.getItem(KEY), 10) || 0; } catch (error) { stored = 0; }
    return Math.max(stored, loadedAt);
  }

  function markActivity() {
    loadedAt = now();
    try { window.localStorage.setItem(KEY, String(loadedAt)); } catch (error) { /* private mode */ }
  }

  function announce(message) {
    // Emptied first so that the same message is announced again.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function minutesText(milliseconds) {
    var minutes = Math.floor(milliseconds / 60000);
    if (minutes < 1) { return data.textMinute; }
    if (minutes === 1) { return data.textOneMinute; }
    return data.textMinutes.replace("%(count)s", String(minutes));
  }

  // The design system's modal moves the focus to its first button (« Fermer ») once it is
  // displayed: the action the reader most likely wants is focused after that, frame by frame.
  function focusWhenShown(element) {
    var frames = 0;
    function attempt() {
      if (element.getClientRects().length) { element.focus(); }
      frames += 1;
      if (frames < 90 && (document.activeElement !== element || frames < 10)) {
        window.requestAnimationFrame(attempt);
      }
    }
    window.requestAnimationFrame(attempt);
  }

  function openModal() {
    if (window.dsfr) {
      window.dsfr(modal).modal.disclose();
    } else if (typeof modal.showModal === "function" && !modal.open) {
      modal.showModal();
    }
  }

  function closeModal() {
    if (window.dsfr) {
      window.dsfr(modal).modal.conceal();
    } else if (typeof modal.close === "function" && modal.open) {
      modal.close();
    }
  }

  function showExpired() {
    expired = true;
    title.textContent = data.textExpiredTitle;
    text.textContent = data.textExpired;
    extend.hidden = true;
    relogin.hidden = false;
    shown = true;
    openModal();
    announce(data.textExpired);
    focusWhenShown(relogin);
  }

  function tick() {
    if (expired) { return; }
    var left = lastActivity() + idle - now();
    if (left <= 0) {
      showExpired();
      return;
    }
    if (left <= warning && !shown && typedAt > lastActivity()) {
      // Typing since the last request: kept quietly (the modal would take the focus away).
      keepAlive(true);
    } else if (left <= warning) {
      var message = data.textWarning.replace("%(minutes)s", minutesText(left));
      text.textContent = message;
      if (!shown) {
        shown = true;
        openModal();
        announce(message);
        focusWhenShown(extend);
      }
    } else if (shown) {
      shown = false;
      closeModal();
    }
    timer = window.setTimeout(tick, Math.min(1000, Math.max(200, left - warning)));
  }

  function keepAlive(quiet) {
    if (keeping) { return; }
    keeping = true;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", token ? token.value : "");
    window.fetch(data.keepaliveUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      keeping = false;
      if (!response.ok) { showExpired(); return; }
      markActivity();
      if (quiet !== true) {
        shown = false;
        closeModal();
        announce(data.textExtended);
      }
      window.clearTimeout(timer);
      tick();
    }).catch(function () {
      // Offline: the warning stays, the button can be pressed again.
      keeping = false;
      typedAt = 0;
    });
  }

  var loadedAt = now();
  markActivity();
  extend.addEventListener("click", keepAlive);
  // A keystroke in a form of the page (not the warning's own buttons).
  document.addEventListener("input", function (event) {
    var target = event.target;
    if (target && target.closest && target.closest("form") && !modal.contains(target)) {
      typedAt = now();
    }
  }, true);
  // This page again, with its query: the server, finding the session closed, asks for the
  // login and comes back here.
  relogin.href = window.location.pathname + window.location.search;
  // Another tab loaded a page or extended the session: its time is the session's.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY && !expired) {
      window.clearTimeout(timer);
      tick();
    }
  });
  tick();
}());
