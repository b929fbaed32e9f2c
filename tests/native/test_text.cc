// Tokenizers and the UTF-8 stream.
#include "text/tokenizer.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;

static std::unique_ptr<Tokenizer> chars(std::vector<std::string> v) {
  return Tokenizer::from_json({{"type", "chars"}, {"vocab", v}, {"bos", 0}}, int(v.size()), "m.safetensors");
}

TEST_CASE("bytes tokenizer round-trips any bytes") {
  auto t = Tokenizer::from_json({{"type", "bytes"}}, 256, "m");
  std::string s = "h\xC3\xA9\x00\xff";
  s.push_back('\0');
  auto ids = t->encode(s);
  REQUIRE(ids.size() == s.size());
  std::string back;
  for (int id : ids) back += t->decode(id);
  CHECK(back == s);
  CHECK(ids[1] == 0xC3);
}

TEST_CASE("chars tokenizer encodes by character and names an unknown one with its position") {
  auto t = chars({"\n", "a", "b", "\xC3\xA9"});  // é
  CHECK(t->encode("ab\xC3\xA9\na") == std::vector<int>{1, 2, 3, 0, 1});
  CHECK(t->decode(3) == "\xC3\xA9");
  CHECK(t->bos() == 0);
  expect_error([&] { t->encode("abz"); }, {"'z'", "U+007A", "position 2", "4 characters"});
  expect_error([&] { t->encode("\xC3\xA9\xE2\x82\xAC"); }, {"U+20AC", "position 1"});  // € after é: position counts characters
  expect_error([&] { t->encode("a\xff"); }, {"not valid UTF-8", "byte 1"});
}

TEST_CASE("tokenizer JSON errors") {
  expect_error([] { Tokenizer::from_json(nullptr, 3, "m.st"); }, {"m.st", "'tokenizer' is missing"});
  expect_error([] { Tokenizer::from_json({{"type", "bpe9"}}, 3, "m"); }, {"unknown type 'bpe9'"});
  expect_error([] { Tokenizer::from_json({{"type", "bytes"}}, 100, "m"); }, {"at least 256", "100"});
  expect_error([] { Tokenizer::from_json({{"type", "chars"}, {"vocab", {"a", "b"}}}, 3, "m"); }, {"2 characters", "vocab_size is 3"});
  expect_error([] { Tokenizer::from_json({{"type", "chars"}, {"vocab", {"a", "ab"}}}, 2, "m"); }, {"entry 1", "exactly one character"});
  expect_error([] { Tokenizer::from_json({{"type", "chars"}, {"vocab", {"a", "a"}}}, 2, "m"); }, {"appears twice"});
  expect_error([] { Tokenizer::from_json({{"type", "chars"}, {"vocab", {"a", "b"}}, {"bos", 5}}, 2, "m"); }, {"'bos'", "0..1", "5"});
}

TEST_CASE("Utf8Stream releases whole characters only") {
  Utf8Stream u;
  CHECK(u.push("a\xE2") == "a");
  CHECK(u.push("\x82") == "");
  CHECK(u.push("\xAC!") == "\xE2\x82\xAC!");
  CHECK(u.push("\xff") == "\xEF\xBF\xBD");         // invalid byte -> U+FFFD
  CHECK(u.push("\xC3") == "");
  CHECK(u.push("x") == "\xEF\xBF\xBDx");            // broken sequence
  CHECK(u.push("\xF0\x9F") == "");
  CHECK(u.flush() == "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated at the end
}
