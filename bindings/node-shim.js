// --extern-pre-js: the ES module emscripten emits expects CommonJS `require` and `__dirname` under
// Node. Define them there only (a static import would break browsers).
var require, __dirname, __filename;
if (typeof process === 'object' && process.versions && process.versions.node) {
  const { createRequire } = await import('module');
  const { fileURLToPath } = await import('url');
  const path = await import('path');
  require = createRequire(import.meta.url);
  __filename = fileURLToPath(import.meta.url);
  __dirname = path.dirname(__filename);
}
