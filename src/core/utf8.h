// Small UTF-8 helpers shared by the loader and the tokenizers.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace argen {

// Index of the first byte that starts an invalid or truncated sequence, or npos if all valid.
size_t utf8_invalid_at(std::string_view s);
// Length of the sequence a lead byte announces (1..4), or 0 for a continuation/invalid byte.
int utf8_sequence_length(uint8_t lead);
// Splits a string into its code points (each returned as its UTF-8 bytes); throws on invalid input.
std::vector<std::string> utf8_chars(std::string_view s);

}  // namespace argen
