// Types of the argen ES module (argen.mjs).

export interface ModelInfo {
  arch: string;
  modality: 'text' | 'image' | 'audio';
  name: string;
  description: string;
  /** Size of the logits: tokens, intensity levels, or mu-law codes. */
  vocabSize: number;
  /** Positions the model can attend to; 0 when unbounded. */
  contextLength: number;
  parameters: number;
  fileSize: number;
  /** The weight matrices' type: 'int8' when loaded with weights: 'int8' or from an int8 file. */
  weights: 'f32' | 'int8';
  metadata: Record<string, string>;
  attentionLayers: number;
  attentionHeads: number;
  /** Classes (images) or speakers (audio) the model is conditioned on; 0: unconditional. */
  numLabels: number;
  labels: string[];
  tokenizer?: string;
  height?: number;
  width?: number;
  channels?: number;
  sampleRate?: number;
}

export interface SamplingOptions {
  /** 0: greedy. Default 0.8 for text, 1 for images and audio. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  repetitionWindow?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface TextOptions extends SamplingOptions {
  prompt?: string;
  maxTokens?: number;
  stop?: string | string[];
  logprobs?: number;
  attentionLayer?: number;
}

export interface ImageOptions extends SamplingOptions {
  /** A class index or name from info.labels; required by class-conditional models. */
  label?: number | string;
  /** Levels of whole top rows (raster order: row, column, channel) to complete. */
  prefix?: ArrayLike<number>;
}

export interface AudioOptions extends SamplingOptions {
  seconds?: number;
  samples?: number;
  /** A speaker index or name from info.labels; required by speaker-conditioned models. */
  speaker?: number | string;
  chunkSize?: number;
  priming?: Float32Array;
  primingSampleRate?: number;
}

export interface Alternative { id: number; text: string; logprob: number }

export interface TokenEvent {
  type: 'token';
  id: number;
  text: string;
  logprob: number;
  top?: Alternative[];
  attention?: { layer: number; heads: Float32Array[] };
}

export interface PixelEvent {
  type: 'pixel';
  x: number;
  y: number;
  channel: number;
  value: number;
  logprob: number;
  prefix: boolean;
}

export interface RowEvent { type: 'row'; y: number; values: Uint8Array }

export interface AudioEvent { type: 'audio'; samples: Float32Array; sampleRate: number }

export interface DoneEvent {
  type: 'done';
  finishReason: 'stop' | 'length' | 'abort';
  generated: number;
  promptTokens?: number;
}

export type GenerateEvent = TokenEvent | PixelEvent | RowEvent | AudioEvent | DoneEvent;

export class Model {
  get info(): ModelInfo;
  generate(options?: TextOptions | ImageOptions | AudioOptions): AsyncGenerator<GenerateEvent, void, undefined>;
  dispose(): void;
}

export interface LoadOptions {
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  name?: string;
  /** Cache API cache for downloaded models in browsers; false: always fetch. Default 'argen-models'. */
  cache?: string | false;
  /** Threads for matrix products, fixed by the first loadModel (> 1 loads the threaded core). */
  threads?: number;
  /** 'int8': quantize weight matrices at load (per-row scales). Default 'f32'. */
  weights?: 'f32' | 'int8';
}

export function loadModel(source: string | URL | ArrayBuffer | ArrayBufferView, options?: LoadOptions): Promise<Model>;
export function wasmMemoryBytes(): Promise<number>;
export function liveNativeObjects(): Promise<number>;
export function threads(): number;

export interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { fillStyle: string | CanvasGradient | CanvasPattern; fillRect(x: number, y: number, w: number, h: number): void } | null;
}
export function createCanvasPainter(canvas: CanvasLike, info: ModelInfo, options?: { scale?: number }): { draw(event: GenerateEvent): void };

export interface AudioPlayer {
  readonly underruns: number;
  readonly scheduledSeconds: number;
  readonly bufferedSeconds: number;
  push(samples: Float32Array): void;
  stop(): void;
}
export function createAudioPlayer(context: BaseAudioContext, options?: { sampleRate?: number; latency?: number }): AudioPlayer;

export function encodeWav(samples: ArrayLike<number>, sampleRate: number): Uint8Array;
