// Text <-> token ids. `bytes`: id = byte value (256). `chars`: one Unicode character per id, the
// vocabulary listed in the model file. `bpe` style `llama2.c`: llama2.c's sentencepiece pieces and
// scores, encoded as its run.c does (models/llama2c_convert.py writes them). Decoding yields bytes;
// Utf8Stream turns them into whole characters.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace argen {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Throws argen::Error naming the first character the vocabulary lacks and its position.
  virtual std::vector<int> encode(std::string_view text) const = 0;
  // The bytes of one token (for `bytes`, possibly part of a UTF-8 character).
  virtual std::string decode(int id) const = 0;
  virtual std::string type() const = 0;
  int vocab_size() const { return vocab_size_; }
  int bos() const { return bos_; }  // fed first when the prompt is empty (always, with add_bos); -1 if none
  bool add_bos() const { return add_bos_; }
  int eos() const { return eos_; }  // ends generation when sampled; -1 if none

  // From the model file's `tokenizer` JSON; `vocab_size` is the model's. `source` names the file in errors.
  static std::unique_ptr<Tokenizer> from_json(const nlohmann::json& j, int vocab_size, const std::string& source);

 protected:
  int vocab_size_ = 0, bos_ = -1, eos_ = -1;
  bool add_bos_ = false;
};

// Joins token bytes into complete UTF-8 characters; invalid bytes become U+FFFD.
class Utf8Stream {
 public:
  std::string push(std::string_view bytes);  // the newly completed text
  std::string flush();                       // whatever is left, at the end of a stream
 private:
  std::string partial_;
};

}  // namespace argen
