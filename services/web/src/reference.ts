// The API reference page (/reference.html): Swagger UI, bundled with the page (no CDN), rendering the API's own
// OpenAPI description from GET /v1/openapi.json.
import SwaggerUIBundle from 'swagger-ui-dist/swagger-ui-es-bundle.js';
import 'swagger-ui-dist/swagger-ui.css';

SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#reference', deepLinking: true });
