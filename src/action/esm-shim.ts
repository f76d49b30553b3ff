// Bundled CommonJS dependencies (ssh2's poly1305 loader) read the free variables
// `__dirname` / `__filename`, which ES modules do not have. Each action imports this
// module first so they exist before any dependency is evaluated.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const g = globalThis as { __dirname?: string; __filename?: string };
g.__filename ??= fileURLToPath(import.meta.url);
g.__dirname ??= path.dirname(g.__filename);
