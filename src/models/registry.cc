#include <functional>
#include <utility>

#include "models/model.h"

namespace argen {
namespace {

using Constructor = std::unique_ptr<Model> (*)(std::shared_ptr<const ModelFile>);
const std::pair<const char*, Constructor> kArchs[] = {
    {"rnn", create_recurrent},
    {"gru", create_recurrent},
    {"lstm", create_recurrent},
    {"gpt", create_transformer},
    {"llama", create_transformer},
    {"transformer", create_encoder_transformer},
    {"hybrid", create_hybrid},
};

}  // namespace

std::unique_ptr<Model> create_model(std::shared_ptr<const ModelFile> file) {
  std::string known;
  for (const auto& [name, make] : kArchs) {
    if (file->arch() == name) return make(std::move(file));
    known += known.empty() ? name : std::string(", ") + name;
  }
  throw file->error("unknown arch '" + file->arch() + "' (this build knows: " + known + ")");
}

}  // namespace argen
