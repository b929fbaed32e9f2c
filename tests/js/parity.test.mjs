// Native and wasm builds agree: the same seed and options give the same text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { argen, bundledText, collect, goldenCases, nativeBin, requireFile } from './helpers.mjs';

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

// Every golden architecture with a character vocabulary: same seed, same text, native and wasm.
test('each architecture samples the same tokens natively and in wasm', async () => {
  let checked = 0;
  for (const g of goldenCases()) {
    const m = await argen.loadModel(g.file);
    if (m.info.modality !== 'text' || JSON.parse(m.info.metadata.tokenizer).type !== 'chars') {
      m.dispose();
      continue;
    }
    const tok = JSON.parse(m.info.metadata.tokenizer);
    const prompt = tok.vocab[g.tokens[0]] + tok.vocab[g.tokens[1]];
    const maxTokens = m.info.contextLength ? m.info.contextLength - 2 : 40;
    const events = await collect(m.generate({ prompt, maxTokens, temperature: 0.8, seed: 11 }));
    m.dispose();
    const wasm = prompt + events.map((e) => e.text ?? '').join('') + '\n';
    const native = execFileSync(nativeBin, ['generate', '--model', g.file, '--prompt', prompt, '--max-tokens', String(maxTokens),
      '--temperature', '0.8', '--seed', '11'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(wasm, native, g.name);
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} golden cases have a chars tokenizer`);
});

// int8 weights (quantized at load, or stored int8 by the exporter): wasm and native compute the
// same integer products, so they sample the same text; info.weights says which weights run.
test('int8 weights: same seed, same text natively and in wasm; info.weights reports them', async () => {
  const opts = { prompt: 'And it came to pass', maxTokens: 200, temperature: 0.8, seed: 77 };
  const native = execFileSync(nativeBin, ['generate', '--model', requireFile(bundledText), '--weights', 'int8', '--prompt', opts.prompt,
    '--max-tokens', '200', '--temperature', '0.8', '--seed', '77'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const m = await argen.loadModel(bundledText, { weights: 'int8' });
  assert.equal(m.info.weights, 'int8');
  const wasm = opts.prompt + (await collect(m.generate(opts))).map((e) => e.text ?? '').join('') + '\n';
  assert.equal(wasm, native);
  m.dispose();
  const f = await argen.loadModel(bundledText);
  assert.equal(f.info.weights, 'f32');
  const f32 = opts.prompt + (await collect(f.generate(opts))).map((e) => e.text ?? '').join('') + '\n';
  assert.notEqual(f32, wasm, 'int8 and float32 weights gave the same 200 tokens: is int8 in use?');
  f.dispose();
  await assert.rejects(argen.loadModel(bundledText, { weights: 'int4' }), /weights must be 'f32' or 'int8', found int4/);
  // A file the exporter stored as int8 loads as int8 without asking.
  const stored = goldenCases()[0].file.replace(/[^/]*$/, 'llama_int8_chars_d32_h4_kv2_l2.safetensors');
  const s = await argen.loadModel(requireFile(stored));
  assert.equal(s.info.weights, 'int8');
  s.dispose();
});
