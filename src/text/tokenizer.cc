#include "text/tokenizer.h"

#include <cstdio>

#include "core/error.h"
#include "core/utf8.h"

namespace argen {
namespace {

std::string describe_char(const std::string& c) {
  uint32_t cp = 0;
  int len = utf8_sequence_length(uint8_t(c[0]));
  cp = len == 1 ? uint8_t(c[0]) : len == 2 ? (c[0] & 0x1F) : len == 3 ? (c[0] & 0x0F) : (c[0] & 0x07);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (c[k] & 0x3F);
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", unsigned(cp));
  std::string shown = cp < 0x20 || cp == 0x7F ? std::string() : "'" + c + "' ";
  return shown + "(" + buf + ")";
}

class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(int vocab) { vocab_size_ = vocab; }
  std::vector<int> encode(std::string_view text) const override {
    std::vector<int> ids;
    ids.reserve(text.size());
    for (unsigned char c : text) ids.push_back(c);
    return ids;
  }
  std::string decode(int id) const override {
    return id >= 0 && id < 256 ? std::string(1, char(id)) : std::string();
  }
  std::string type() const override { return "bytes"; }
  friend class Tokenizer;
};

class CharTokenizer : public Tokenizer {
 public:
  std::vector<int> encode(std::string_view text) const override {
    std::vector<int> ids;
    size_t pos = 0;
    for (const auto& c : utf8_chars(text)) {
      auto it = index_.find(c);
      if (it == index_.end())
        throw Error("character " + describe_char(c) + " at position " + std::to_string(pos) +
                    " is not in the model's vocabulary of " + std::to_string(vocab_.size()) + " characters");
      ids.push_back(it->second);
      ++pos;
    }
    return ids;
  }
  std::string decode(int id) const override { return id >= 0 && size_t(id) < vocab_.size() ? vocab_[id] : std::string(); }
  std::string type() const override { return "chars"; }
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int> index_;
  friend class Tokenizer;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_json(const nlohmann::json& j, int vocab_size, const std::string& source) {
  auto fail = [&](const std::string& what) { return Error(source + ": tokenizer: " + what); };
  if (j.is_null()) throw Error(source + ": metadata key 'tokenizer' is missing (a text model needs one)");
  if (!j.contains("type") || !j["type"].is_string()) throw fail("key 'type' is missing");
  const std::string type = j["type"].get<std::string>();
  std::unique_ptr<Tokenizer> t;
  if (type == "bytes") {
    if (vocab_size < 256) throw fail("type 'bytes' needs a vocabulary of at least 256, the model has " + std::to_string(vocab_size));
    t.reset(new ByteTokenizer(vocab_size));
  } else if (type == "chars") {
    if (!j.contains("vocab") || !j["vocab"].is_array()) throw fail("type 'chars' needs a 'vocab' array");
    auto ct = std::make_unique<CharTokenizer>();
    for (const auto& v : j["vocab"]) {
      if (!v.is_string()) throw fail("vocab entry " + std::to_string(ct->vocab_.size()) + " is not a string");
      std::string s = v.get<std::string>();
      std::vector<std::string> cs = utf8_chars(s);
      if (cs.size() != 1)
        throw fail("vocab entry " + std::to_string(ct->vocab_.size()) + " must be exactly one character, found " + v.dump());
      if (!ct->index_.emplace(s, int(ct->vocab_.size())).second) throw fail("vocab entry " + v.dump() + " appears twice");
      ct->vocab_.push_back(s);
    }
    if (int(ct->vocab_.size()) != vocab_size)
      throw fail("vocab has " + std::to_string(ct->vocab_.size()) + " characters, the model's vocab_size is " + std::to_string(vocab_size));
    ct->vocab_size_ = vocab_size;
    t = std::move(ct);
  } else {
    throw fail("unknown type '" + type + "' (known: bytes, chars)");
  }
  for (const char* key : {"bos", "eos"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() >= vocab_size)
      throw fail(std::string("'") + key + "' must be a token id in 0.." + std::to_string(vocab_size - 1) + ", found " + j[key].dump());
    (std::string(key) == "bos" ? t->bos_ : t->eos_) = int(j[key].get<int64_t>());
  }
  return t;
}

std::string Utf8Stream::push(std::string_view bytes) {
  partial_.append(bytes);
  std::string out;
  size_t i = 0;
  while (i < partial_.size()) {
    int len = utf8_sequence_length(uint8_t(partial_[i]));
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (i + len > partial_.size()) {
      // Incomplete: keep it if every byte so far is a continuation byte, else it's invalid.
      bool ok = true;
      for (size_t k = i + 1; k < partial_.size(); ++k) ok = ok && (uint8_t(partial_[k]) & 0xC0) == 0x80;
      if (ok) break;
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    std::string_view seq(partial_.data() + i, len);
    if (utf8_invalid_at(seq) != std::string_view::npos) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(seq);
    i += len;
  }
  partial_.erase(0, i);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out;
  for (size_t i = 0; i < partial_.size(); ++i) out += "\xEF\xBF\xBD";
  partial_.clear();
  return out;
}

}  // namespace argen
