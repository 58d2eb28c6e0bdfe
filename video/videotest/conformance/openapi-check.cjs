// Validates the control API's OpenAPI document
// (video/videotest/control.openapi.json) against the OpenAPI 3.0 schema
// with @apidevtools/swagger-parser. The Go tests validate every control API
// response against this document; this checks the document itself.
//
//   NODE_PATH=<dir>/node_modules node openapi-check.cjs <control.openapi.json>
'use strict';

const SwaggerParser = require('@apidevtools/swagger-parser');

SwaggerParser.validate(process.argv[2]).then((api) => {
  console.log(`control API OpenAPI document: valid (${Object.keys(api.paths).length} paths)`);
}, (err) => {
  console.error('control API OpenAPI document: INVALID:', err.message);
  process.exit(1);
});
