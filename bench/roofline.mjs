// The wasm core's view of this machine's limits (single-threaded build under Node 20): read bandwidth
// (8 MiB and 256 MiB buffers, and buffers of each BYTES given) and peak SIMD128 multiply-add
// throughput. One JSON line.
//
//   node bench/roofline.mjs [BYTES ...]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = process.env.ARGEN_PKG ?? path.join(root, 'build/wasm/pkg');
const { default: createArgenCore } = await import(path.join(pkg, 'argen-core.mjs'));
const core = await createArgenCore({ wasmBinary: await readFile(path.join(pkg, 'argen-core.wasm')) });
const read_gbps = Object.fromEntries(process.argv.slice(2).map((b) => [b, core.readGbps(Number(b))]));
const r = core.roofline();
console.log(JSON.stringify({ engine: 'wasm', cache_gbps: r.cacheGbps, memory_gbps: r.memoryGbps, peak_gflops: r.peakGflops, peak_int8_gmacs: r.peakInt8Gmacs, simd: r.simd, read_gbps }));
