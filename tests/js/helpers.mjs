// Shared paths and helpers for the node tests of the wasm build.
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const pkg = process.env.ARGEN_PKG ?? path.join(root, 'build/wasm/pkg');
export const nativeBin = process.env.ARGEN_NATIVE_BIN ?? path.join(root, 'build/native/argen');
export const bundledText = path.join(root, 'models/bundled/kjv-lstm.safetensors');
export const goldenDir = path.join(root, 'tests/golden');

export const argen = await import(path.join(pkg, 'argen.mjs'));

// Golden cases from models/make_golden.py, with their tokenizer type.
export function goldenCases() {
  const { cases } = JSON.parse(readFileSync(path.join(goldenDir, 'index.json'), 'utf8'));
  return cases.map((name) => {
    const g = JSON.parse(readFileSync(path.join(goldenDir, `${name}.json`), 'utf8'));
    return { name, file: path.join(goldenDir, g.model), ...g };
  });
}

export async function collect(iter) {
  const events = [];
  for await (const ev of iter) events.push(ev);
  return events;
}

export function requireFile(p) {
  if (!existsSync(p)) throw new Error(`missing ${p}: build it first (see README)`);
  return p;
}
