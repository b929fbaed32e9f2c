// libFuzzer target: arbitrary bytes as a model file -> safetensors reader, metadata and config
// parsing, model creation, tokenizer: everything loadModel does. Any outcome but success or an
// argen::Error is a finding (crash, other exception, a single allocation over -malloc_limit_mb).
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/model_file.h"
#include "models/model.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace argen;
  try {
    auto file = ModelFile::from_bytes(Bytes::from_vector(std::vector<uint8_t>(data, data + size)), "fuzz");
    auto model = create_model(file);
    if (file->modality() == "text") Tokenizer::from_json(file->tokenizer(), model->info().vocab_size, "fuzz");
  } catch (const Error&) {
  }
  return 0;
}
