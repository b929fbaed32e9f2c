#include "text/tokenizer.h"

#include <cctype>
#include <cstdio>
#include <queue>

#include "core/error.h"
#include "core/model_file.h"
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

// llama2.c's tokenizer (type "bpe", style "llama2.c"): sentencepiece pieces as llama2.c's tokenizer.bin
// stores them ('▁' replaced by ' '), a score per piece, byte tokens "<0x00>".."<0xFF>" at ids 3..258.
// encode() is run.c's encode() without the bos (the generator feeds it): the dummy prefix " ", one token
// per UTF-8 character or else per byte, then the best-scoring merges. decode() is run.c's decode()
// without its "strip the space after bos" rule: "<0xXX>" pieces are raw bytes.
class Llama2cTokenizer : public Tokenizer {
 public:
  std::vector<int> encode(std::string_view text) const override {
    std::vector<int> ids;
    if (text.empty()) return ids;
    const int space = lookup(" ");
    ids.push_back(space >= 0 ? space : ' ' + 3);  // add_dummy_prefix
    for (size_t i = 0; i < text.size();) {
      size_t n = 1;  // a byte and the continuation bytes (10xxxxxx) after it, 4 bytes at most
      while (n < 4 && i + n < text.size() && (uint8_t(text[i + n]) & 0xC0) == 0x80) ++n;
      const std::string c(text.substr(i, n));
      if (int id = lookup(c); id >= 0) {
        ids.push_back(id);
      } else {
        for (unsigned char b : c) ids.push_back(b + 3);  // byte fallback
      }
      i += n;
    }
    merge(ids);
    return ids;
  }
  std::string decode(int id) const override { return id >= 0 && size_t(id) < decoded_.size() ? decoded_[id] : std::string(); }
  std::string type() const override { return "bpe"; }

 private:
  // Repeatedly replaces the adjacent pair whose concatenation is the highest-scoring piece (the leftmost
  // pair on ties; scores must beat -1e10), as run.c does by rescanning all pairs after each merge. Here a
  // heap holds the candidate pairs, so a long text costs n log n, not n^2; an entry whose tokens have
  // changed since it was pushed is skipped.
  void merge(std::vector<int>& ids) const {
    struct Pair { float score; int left, right, left_id, right_id, id; };
    auto worse = [](const Pair& a, const Pair& b) { return a.score != b.score ? a.score < b.score : a.left > b.left; };
    std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> heap(worse);
    const int n = int(ids.size());
    std::vector<int> prev(n), next(n);  // a linked list over the surviving positions
    for (int i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
    auto push = [&](int l, int r) {
      if (l < 0 || r < 0) return;
      int id = lookup(vocab_[ids[l]] + vocab_[ids[r]]);
      if (id >= 0 && scores_[id] > -1e10f) heap.push({scores_[id], l, r, ids[l], ids[r], id});
    };
    for (int i = 0; i + 1 < n; ++i) push(i, i + 1);
    while (!heap.empty()) {
      const Pair p = heap.top();
      heap.pop();
      if (ids[p.left] != p.left_id || next[p.left] != p.right || ids[p.right] != p.right_id) continue;
      ids[p.left] = p.id;
      ids[p.right] = -1;
      next[p.left] = next[p.right];
      if (next[p.left] >= 0) prev[next[p.left]] = p.left;
      push(prev[p.left], p.left);
      push(p.left, next[p.left]);
    }
    std::vector<int> out;
    for (int i = n ? 0 : -1; i >= 0; i = next[i]) out.push_back(ids[i]);
    ids = std::move(out);
  }
  int lookup(const std::string& piece) const {
    auto it = index_.find(piece);
    return it == index_.end() ? -1 : it->second;
  }

  std::vector<std::string> vocab_, decoded_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int> index_;  // piece -> its lowest id
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
        throw fail("vocab entry " + std::to_string(ct->vocab_.size()) + " must be exactly one character, found " + json_brief(v));
      if (!ct->index_.emplace(s, int(ct->vocab_.size())).second) throw fail("vocab entry " + json_brief(v) + " appears twice");
      ct->vocab_.push_back(s);
    }
    if (int(ct->vocab_.size()) != vocab_size)
      throw fail("vocab has " + std::to_string(ct->vocab_.size()) + " characters, the model's vocab_size is " + std::to_string(vocab_size));
    ct->vocab_size_ = vocab_size;
    t = std::move(ct);
  } else if (type == "bpe") {
    if (!j.contains("style") || !j["style"].is_string()) throw fail("type 'bpe' needs a 'style' (known: llama2.c)");
    if (j["style"] != "llama2.c") throw fail("unknown bpe style " + json_brief(j["style"]) + " (known: llama2.c)");
    for (const char* key : {"vocab", "scores"}) {
      if (!j.contains(key) || !j[key].is_array()) throw fail(std::string("type 'bpe' needs a '") + key + "' array");
      if (j[key].size() != size_t(vocab_size))
        throw fail(std::string("'") + key + "' has " + std::to_string(j[key].size()) + " entries, the model's vocab_size is " +
                   std::to_string(vocab_size));
    }
    if (vocab_size < 259) throw fail("style 'llama2.c' needs the byte tokens at ids 3..258, the model's vocab_size is " + std::to_string(vocab_size));
    auto bt = std::make_unique<Llama2cTokenizer>();
    for (int i = 0; i < vocab_size; ++i) {
      const auto& v = j["vocab"][i];
      std::string piece;
      if (v.is_string()) {
        piece = v.get<std::string>();
      } else if (v.is_array()) {  // a piece that is not valid UTF-8: its byte values
        for (const auto& b : v) {
          if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > 255)
            throw fail("vocab entry " + std::to_string(i) + " must be a string or an array of byte values, found " + json_brief(v));
          piece.push_back(char(b.get<int>()));
        }
      } else {
        throw fail("vocab entry " + std::to_string(i) + " must be a string or an array of byte values, found " + json_brief(v));
      }
      const auto& s = j["scores"][i];
      if (!s.is_number()) throw fail("scores entry " + std::to_string(i) + " is not a number, found " + json_brief(s));
      // "<0xXX>" decodes to the byte XX, as run.c's decode()
      std::string decoded = piece;
      auto hex = [](char c) { return std::isxdigit(uint8_t(c)) != 0; };
      if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && hex(piece[3]) && hex(piece[4]) && piece[5] == '>')
        decoded = std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16)));
      bt->index_.emplace(piece, i);  // a piece listed twice keeps its lowest id
      bt->vocab_.push_back(std::move(piece));
      bt->decoded_.push_back(std::move(decoded));
      bt->scores_.push_back(s.get<float>());
    }
    bt->vocab_size_ = vocab_size;
    t = std::move(bt);
  } else {
    throw fail("unknown type '" + type + "' (known: bytes, chars, bpe)");
  }
  for (const char* key : {"bos", "eos"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_number_integer() || j[key].get<int64_t>() < 0 || j[key].get<int64_t>() >= vocab_size)
      throw fail(std::string("'") + key + "' must be a token id in 0.." + std::to_string(vocab_size - 1) + ", found " + json_brief(j[key]));
    (std::string(key) == "bos" ? t->bos_ : t->eos_) = int(j[key].get<int64_t>());
  }
  if (j.contains("add_bos")) {  // llama2.c feeds bos before every prompt
    if (!j["add_bos"].is_boolean()) throw fail("'add_bos' must be true or false, found " + json_brief(j["add_bos"]));
    t->add_bos_ = j["add_bos"].get<bool>();
    if (t->add_bos_ && t->bos_ < 0) throw fail("'add_bos' is true but there is no 'bos' token");
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
