#include "core/utf8.h"

#include <vector>

#include "core/error.h"

namespace argen {

int utf8_sequence_length(uint8_t c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

size_t utf8_invalid_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    int len = utf8_sequence_length(c);
    if (len == 0 || i + len > s.size()) return i;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len; ++k) {
      uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::vector<std::string> utf8_chars(std::string_view s) {
  if (size_t bad = utf8_invalid_at(s); bad != std::string_view::npos)
    throw Error("text is not valid UTF-8 at byte " + std::to_string(bad));
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    int len = utf8_sequence_length(static_cast<uint8_t>(s[i]));
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace argen
