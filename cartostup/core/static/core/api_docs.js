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
  window.SwaggerUIBundle({
    url: node.dataset.schemaUrl,
    domNode: node,
    deepLinking: true,
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
