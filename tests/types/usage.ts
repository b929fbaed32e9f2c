// What a developer writes with argen, type-checked by `tsc --noEmit -p tests/types` (tests/js/package.test.mjs).
// The @ts-expect-error lines must fail to type-check: if the declarations got looser, tsc reports them.
import { createAudioPlayer, createCanvasPainter, encodeWav, loadModel, type GenerateEvent } from 'argen';

export async function text(out: HTMLElement): Promise<string> {
  const model = await loadModel('/models/kjv-lstm.safetensors', { onProgress: (loaded, total) => console.log(loaded / total) });
  const ac = new AbortController();
  for await (const ev of model.generate({ prompt: 'And God said', maxTokens: 100, temperature: 0.8, stop: ['\n'], signal: ac.signal })) {
    if (ev.type === 'token') out.textContent += ev.text;
    else if (ev.type === 'done') return ev.finishReason;
  }
  // @ts-expect-error maxTokens is a number
  model.generate({ maxTokens: '100' });
  model.dispose();
  return model.info.arch;
}

export async function image(canvas: HTMLCanvasElement): Promise<void> {
  const model = await loadModel(new Uint8Array(8), { cache: false, threads: 2 });
  const painter = createCanvasPainter(canvas, model.info, { scale: 8 });
  for await (const ev of model.generate({ label: 'Sneaker', seed: 1 })) {
    painter.draw(ev);
    if (ev.type === 'row') console.log(ev.y, ev.values.length);
  }
  // @ts-expect-error a prefix is levels, not a string
  model.generate({ prefix: 'top rows' });
}

export async function audio(context: AudioContext): Promise<Uint8Array> {
  const model = await loadModel('/models/voice.safetensors');
  const player = createAudioPlayer(context, { sampleRate: model.info.sampleRate });
  const chunks: Float32Array[] = [];
  for await (const ev of model.generate({ seconds: 2, speaker: 0, chunkSize: 512 })) {
    if (ev.type === 'audio') player.push(ev.samples), chunks.push(ev.samples);
  }
  const all = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  const last: GenerateEvent = { type: 'done', finishReason: 'length', generated: all.length };
  console.log(last, player.underruns);
  // @ts-expect-error the sample rate is required
  encodeWav(all);
  return encodeWav(all, model.info.sampleRate ?? 16000);
}
