// The machine's limits, measured on one thread (bench only): read bandwidth from a buffer that
// fits the last-level cache and from one that does not (or of any size: read_gbps), and peak SIMD
// multiply-add throughput.
#pragma once
#include <string>

namespace argen::ops {

struct Roofline {
  double cache_gbps = 0;   // 8 MiB buffer, read repeatedly (L3 here)
  double memory_gbps = 0;  // 256 MiB buffer (DRAM)
  double peak_gflops = 0;  // float32 multiply-adds on registers (FMAs natively, multiplies and adds in wasm)
  double peak_int8_gmacs = 0;  // int8 x int8 multiply-adds: the best of matvec_q8q8,
                               // matvec_q8q8_panels and matmul_q8q8_panels on L1-resident data
                               // (their loads and multiply-adds, not memory, bind them there)
  std::string simd;
};
Roofline measure_roofline();
// Read bandwidth in GB/s from a buffer of `bytes`, read repeatedly as four sequential streams (the
// best of a few passes). What a model reading that many weight bytes per step can at best get: the
// share of the 32 MiB L3 one core keeps on this shared host is well under 32 MiB (16 MiB buffers
// already read near DRAM speed), so a working set is measured at its own size.
double read_gbps(size_t bytes);
// The buffer sizes read_gbps accepts (callers check what users pass): 4 KiB to 1 GiB.
inline bool read_bytes_ok(double bytes) { return bytes >= 4096 && bytes <= double(1 << 30) && bytes == double(size_t(bytes)); }

}  // namespace argen::ops
