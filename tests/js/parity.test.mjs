// Native and wasm builds agree: the same seed and options give the same text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { argen, bundledText, collect, nativeBin, requireFile } from './helpers.mjs';

test('300 tokens at temperature 0.8 with a fixed seed are identical natively and in wasm', async () => {
  const opts = { prompt: 'And it came to pass', maxTokens: 300, temperature: 0.8, seed: 1234 };
  const native = execFileSync(requireFile(nativeBin), ['generate', '--model', requireFile(bundledText), '--prompt', opts.prompt,
    '--max-tokens', '300', '--temperature', '0.8', '--seed', '1234'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = await argen.loadModel(bundledText);
  const events = await collect(m.generate(opts));
  const wasm = opts.prompt + events.map((e) => e.text ?? '').join('') + '\n';
  assert.equal(events.filter((e) => e.type === 'token').length, 300);
  assert.equal(wasm, native);
  m.dispose();
});
