/**
 * /api/docs: Swagger UI (served from npm at /vendor/) over the document the
 * page names. Without the vendor files the page still links the document.
 * Tags start folded, with a filter box: the platform's document holds well
 * over a hundred operations, which Swagger UI does not render at once.
 */

const root = document.getElementById("swagger-ui");
if (window.SwaggerUIBundle) {
  window.SwaggerUIBundle({ url: root.dataset.document, domNode: root, deepLinking: true, docExpansion: "none", filter: true });
}
