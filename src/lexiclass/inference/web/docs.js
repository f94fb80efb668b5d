// The OpenAPI page at /docs: Swagger UI from the package's own copy (vendor/swagger-ui), no CDN.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the default would ask an outside validator service about the schema
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
