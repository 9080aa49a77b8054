// Validates the committed OpenAPI description with an independent validator: swagger-parser
// checks it against the official OpenAPI 3.1 JSON Schema and resolves every $ref.
// Usage: node validate-spec.mjs openapi/openapi.json [openapi/openapi.yaml ...]
import SwaggerParser from "@apidevtools/swagger-parser";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate-spec.mjs FILE...");
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  try {
    const api = await SwaggerParser.validate(file);
    const ops = Object.values(api.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    console.log(`${file}: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths, ${ops} operations`);
  } catch (err) {
    failed++;
    console.error(`${file}: INVALID: ${err.message}`);
  }
}
process.exit(failed ? 1 : 0);
