declare module 'swagger-ui-dist/swagger-ui-es-bundle.js' {
  /** Renders the description at `url` into the element `dom_id` names. */
  export default function SwaggerUIBundle(options: { url: string; dom_id: string; deepLinking?: boolean }): unknown;
}
