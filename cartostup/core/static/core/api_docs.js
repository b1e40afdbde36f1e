/* Starts Swagger UI on the API documentation page (/api/docs/). A file of this site, not an
   inline script: the Content-Security-Policy allows scripts from 'self' only. The schema's
   address and the CSRF cookie's name come from the page's data attributes. */
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  if (!node || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  function cookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i += 1) {
      var item = parts[i].trim();
      if (item.indexOf(name + "=") === 0) {
        return decodeURIComponent(item.substring(name.length + 1));
      }
    }
    return "";
  }
  // An example (JSON in a <pre>) too big for its box scrolls: it takes the keyboard focus so
  // that the arrow keys scroll it too (RGAA 7.3, WCAG 2.1.1; axe-core
  // scrollable-region-focusable). Swagger UI draws them as operations are opened.
  function focusScrollers() {
    var blocks = node.querySelectorAll("pre.microlight:not([tabindex])");
    for (var i = 0; i < blocks.length; i += 1) {
      var block = blocks[i];
      if (block.scrollWidth > block.clientWidth + 1 || block.scrollHeight > block.clientHeight + 1) {
        block.setAttribute("tabindex", "0");
      }
    }
  }
  if (window.MutationObserver) {
    new MutationObserver(focusScrollers).observe(node, { childList: true, subtree: true });
  }
  window.addEventListener("resize", focusScrollers);
  window.SwaggerUIBundle({
    url: node.dataset.schemaUrl,
    domNode: node,
    // No deep links: Swagger UI draws each one as a link inside the button that opens its
    // operation, a control inside a control that keyboards and screen readers handle badly
    // (RGAA 7.1, WCAG 4.1.2; axe-core nested-interactive). Without them the path is text.
    deepLinking: false,
    // No call to the public validator (no request leaves the site).
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // « Try it out » from a logged-in session: the session API wants the CSRF token in a
    // header on writes, as any session client must send it (a token client needs none).
    requestInterceptor: function (request) {
      var token = cookie(node.dataset.csrfCookie || "csrftoken");
      if (token && !request.headers.Authorization) {
        request.headers[node.dataset.csrfHeader || "X-CSRFToken"] = token;
      }
      return request;
    },
  });
})();
