// Codecs of the image and audio modalities: mu-law codes <-> float samples, and the files the CLI
// writes (PNG, WAV). Text has its own (text/tokenizer.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace argen {

// Mu-law companding with mu = levels - 1 (256 levels: 8-bit mu-law), as models/wavenet.py:
// y = sign(x) ln(1 + mu |x|) / ln(1 + mu), code = floor((y + 1) / 2 * mu + 0.5); x is clamped to
// [-1, 1]. Decoding gives the centre of each code's interval.
int mu_law_encode(float x, int levels);
float mu_law_decode(int code, int levels);

// An 8-bit PNG (grayscale, RGB or RGBA by channels 1, 3, 4) of pixels [height, width, channels].
std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels);
// A 16-bit PCM mono WAV of samples in [-1, 1] (clamped).
std::vector<uint8_t> encode_wav(const float* samples, size_t n, int sample_rate);
// Reads a PCM (8/16/24/32-bit integer or 32-bit float) WAV; several channels are averaged.
// Throws naming what is wrong with the file.
std::vector<float> decode_wav(const uint8_t* data, size_t size, int* sample_rate);

}  // namespace argen
