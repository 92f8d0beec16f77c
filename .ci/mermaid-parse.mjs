// Parses Mermaid diagrams with Mermaid's own parser (the one GitHub renders with), in jsdom: the
// netmap goldens (*.mmd) and the ```mermaid blocks of Markdown files. Exits 1 if any fails to parse.
// Usage: node .ci/mermaid-parse.mjs FILE...   (NODE_PATH: where mermaid and jsdom are installed)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), 'x.js'));
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import(require.resolve('mermaid'));
mermaid.initialize({ startOnLoad: false });

let diagrams = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  const blocks = file.endsWith('.md')
    ? [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1])
    : [text];
  if (blocks.length === 0) {
    console.log(`FAIL ${file}: no mermaid block`);
    failed++;
  }
  for (const block of blocks) {
    diagrams++;
    try {
      await mermaid.parse(block);
    } catch (e) {
      failed++;
      console.log(`FAIL ${file}: ${String(e.message || e).split('\n').slice(0, 4).join(' ')}`);
    }
  }
}
console.log(`mermaid: ${diagrams - failed} of ${diagrams} diagrams parse`);
process.exit(failed ? 1 : 0);
