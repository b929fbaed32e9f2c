#include "codec/codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace argen {

int mu_law_encode(float x, int levels) {
  const double mu = levels - 1;
  const double v = std::isnan(x) ? 0.0 : std::clamp(double(x), -1.0, 1.0);
  const double y = (v < 0 ? -1.0 : v > 0 ? 1.0 : 0.0) * std::log1p(mu * std::fabs(v)) / std::log1p(mu);
  return std::clamp(int(std::floor((y + 1) / 2 * mu + 0.5)), 0, levels - 1);
}

float mu_law_decode(int code, int levels) {
  const double mu = levels - 1;
  const double y = code * (2.0 / mu) - 1.0;
  return float((y < 0 ? -1.0 : y > 0 ? 1.0 : 0.0) * (std::pow(1.0 + mu, std::fabs(y)) - 1.0) / mu);
}

namespace {

void put32be(std::vector<uint8_t>& o, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) o.push_back(uint8_t(v >> s));
}
void put16le(std::vector<uint8_t>& o, uint32_t v) { o.push_back(uint8_t(v)), o.push_back(uint8_t(v >> 8)); }
void put32le(std::vector<uint8_t>& o, uint32_t v) { put16le(o, v & 0xffff), put16le(o, v >> 16); }

uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

void chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  put32be(png, uint32_t(data.size()));
  const size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put32be(png, crc32(png.data() + start, png.size() - start));
}

}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels) {
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3 && channels != 4))
    throw Error("PNG: bad image shape " + std::to_string(width) + "x" + std::to_string(height) + "x" + std::to_string(channels));
  // Raw scanlines (filter 0) in stored (uncompressed) deflate blocks: no zlib needed.
  std::vector<uint8_t> raw;
  const size_t row = size_t(width) * channels;
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), pixels + y * row, pixels + (y + 1) * row);
  }
  std::vector<uint8_t> z = {0x78, 0x01};
  size_t off = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - off);
    z.push_back(off + n == raw.size() ? 1 : 0);  // BFINAL on the last block, BTYPE 00 (stored)
    put16le(z, uint32_t(n)), put16le(z, uint32_t(~n & 0xffff));
    z.insert(z.end(), raw.begin() + off, raw.begin() + off + n);
    off += n;
  } while (off < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  put32be(z, (b << 16) | a);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put32be(ihdr, width), put32be(ihdr, height);
  ihdr.insert(ihdr.end(), {8, uint8_t(channels == 1 ? 0 : channels == 3 ? 2 : 6), 0, 0, 0});
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", {});
  return png;
}

std::vector<uint8_t> encode_wav(const float* samples, size_t n, int sample_rate) {
  std::vector<uint8_t> w;
  w.reserve(44 + 2 * n);
  auto tag = [&w](const char* s) { w.insert(w.end(), {uint8_t(s[0]), uint8_t(s[1]), uint8_t(s[2]), uint8_t(s[3])}); };
  tag("RIFF");
  put32le(w, uint32_t(36 + 2 * n));
  tag("WAVE"), tag("fmt ");
  put32le(w, 16), put16le(w, 1), put16le(w, 1), put32le(w, sample_rate), put32le(w, sample_rate * 2);
  put16le(w, 2), put16le(w, 16);
  tag("data");
  put32le(w, uint32_t(2 * n));
  for (size_t i = 0; i < n; ++i) {
    const float x = std::isnan(samples[i]) ? 0.0f : std::clamp(samples[i], -1.0f, 1.0f);
    put16le(w, uint16_t(int16_t(std::floor(double(x) * 32767.0 + 0.5))));  // as JS Math.round
  }
  return w;
}

std::vector<float> decode_wav(const uint8_t* d, size_t size, int* sample_rate) {
  auto u16 = [&](size_t o) { return uint32_t(d[o]) | uint32_t(d[o + 1]) << 8; };
  auto u32 = [&](size_t o) { return u16(o) | u16(o + 2) << 16; };
  if (size < 12 || std::memcmp(d, "RIFF", 4) != 0 || std::memcmp(d + 8, "WAVE", 4) != 0)
    throw Error("WAV: not a RIFF/WAVE file");
  int format = 0, channels = 0, bits = 0;
  for (size_t o = 12; o + 8 <= size;) {
    const uint32_t n = u32(o + 4);
    if (n > size - o - 8) throw Error("WAV: chunk '" + std::string(reinterpret_cast<const char*>(d + o), 4) + "' runs past the end of the file");
    if (std::memcmp(d + o, "fmt ", 4) == 0) {
      if (n < 16) throw Error("WAV: fmt chunk too short");
      format = int(u16(o + 8)), channels = int(u16(o + 10)), *sample_rate = int(u32(o + 12)), bits = int(u16(o + 22));
      if (format == 0xFFFE && n >= 26) format = int(u16(o + 32));  // WAVE_FORMAT_EXTENSIBLE: the sub-format
    } else if (std::memcmp(d + o, "data", 4) == 0) {
      if (!channels) throw Error("WAV: data chunk before the fmt chunk");
      const bool pcm = format == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32);
      if (!pcm && !(format == 3 && bits == 32))
        throw Error("WAV: format " + std::to_string(format) + " with " + std::to_string(bits) + " bits is not supported (PCM 8/16/24/32 or float 32)");
      const size_t bytes = bits / 8, frames = n / (bytes * channels);
      std::vector<float> out(frames, 0.0f);
      for (size_t f = 0; f < frames; ++f) {
        double sum = 0;
        for (int c = 0; c < channels; ++c) {
          const uint8_t* p = d + o + 8 + (f * channels + c) * bytes;
          if (format == 3) {
            float v;
            std::memcpy(&v, p, 4);
            sum += v;
          } else if (bits == 8) {
            sum += (int(p[0]) - 128) / 128.0;
          } else {
            int64_t v = 0;
            for (size_t k = 0; k < bytes; ++k) v |= int64_t(p[k]) << (8 * k);
            const int64_t sign = int64_t(1) << (bits - 1);
            v = (v ^ sign) - sign;
            sum += double(v) / double(sign);
          }
        }
        out[f] = float(sum / channels);
      }
      return out;
    }
    o += 8 + n + (n & 1);
  }
  throw Error("WAV: no data chunk");
}

}  // namespace argen
