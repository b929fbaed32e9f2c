#include <functional>
#include <utility>

#include "core/error.h"
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
    {"pixelcnn", create_pixelcnn},
    {"pixelrnn", create_pixelrnn},
    {"wavenet", create_wavenet},
};

}  // namespace

void Model::set_label(State&, int) const {
  throw Error("this model (" + info_.arch + ") takes no label: it is not conditioned on classes or speakers");
}

void Model::first(State&, float*) const {
  throw Error("this model (" + info_.arch + ") needs a first element (a prompt) to start from");
}

std::unique_ptr<Model> create_model(std::shared_ptr<const ModelFile> file) {
  std::string known;
  for (const auto& [name, make] : kArchs) {
    if (file->arch() == name) return make(std::move(file));
    known += known.empty() ? name : std::string(", ") + name;
  }
  throw file->error("unknown arch '" + file->arch() + "' (this build knows: " + known + ")");
}

}  // namespace argen
