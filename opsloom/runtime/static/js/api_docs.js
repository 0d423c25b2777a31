/**
 * /api/docs: Swagger UI (served from npm at /vendor/) over the document the
 * page names. Without the vendor files the page still links the document.
 */

const root = document.getElementById("swagger-ui");
if (window.SwaggerUIBundle) {
  window.SwaggerUIBundle({ url: root.dataset.document, domNode: root, deepLinking: true });
}
