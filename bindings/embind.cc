// Thin Embind layer over the C++ API: no logic the native build lacks. Every C++ error becomes a JS
// Error carrying its message.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "core/error.h"
#include "generate/generator.h"

using emscripten::val;

namespace argen {
namespace {

[[noreturn]] void throw_js(const std::string& msg) {
  val::global("Error").new_(msg).throw_();
  __builtin_unreachable();
}

template <class F>
auto guarded(F f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw_js(e.what());
  }
}

struct Loaded {
  std::shared_ptr<ModelFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // text models only
};

// Reads a JS options object; unknown keys are errors so typos don't pass silently.
GenerateOptions text_options(const val& o) {
  GenerateOptions g;
  g.sampling.temperature = 0.8f;
  if (o.isUndefined() || o.isNull()) return g;
  if (o.typeOf().as<std::string>() != "object") throw Error("generate options must be an object");
  const val keys = val::global("Object").call<val>("keys", o);
  const int n = keys["length"].as<int>();
  auto number = [&](const std::string& k) {
    val v = o[k];
    if (v.typeOf().as<std::string>() != "number") throw Error("option '" + k + "' must be a number");
    return v.as<double>();
  };
  auto integer = [&](const std::string& k, double lo, double hi) {
    double v = number(k);
    if (!(v >= lo && v <= hi) || v != double(int64_t(v)))
      throw Error("option '" + k + "' must be an integer in " + std::to_string(int64_t(lo)) + ".." + std::to_string(int64_t(hi)) +
                  ", found " + val(v).call<std::string>("toString"));
    return v;
  };
  for (int i = 0; i < n; ++i) {
    const std::string k = keys[i].as<std::string>();
    if (o[k].isUndefined()) continue;
    if (k == "prompt") {
      if (!o[k].isString()) throw Error("option 'prompt' must be a string");
      g.prompt = o[k].as<std::string>();
    } else if (k == "maxTokens") {
      g.max_tokens = int(integer(k, 0, 1 << 24));
    } else if (k == "temperature") {
      g.sampling.temperature = float(number(k));
    } else if (k == "topK") {
      g.sampling.top_k = int(integer(k, -(1 << 30), 1 << 30));
    } else if (k == "topP") {
      g.sampling.top_p = float(number(k));
    } else if (k == "minP") {
      g.sampling.min_p = float(number(k));
    } else if (k == "repetitionPenalty") {
      g.sampling.repetition_penalty = float(number(k));
    } else if (k == "repetitionWindow") {
      g.sampling.repetition_window = int(integer(k, -(1 << 30), 1 << 30));
    } else if (k == "logprobs") {
      g.logprobs = int(integer(k, -(1 << 30), 1 << 30));
    } else if (k == "attentionLayer") {
      g.attention_layer = int(integer(k, -(1 << 30), 1 << 30));
    } else if (k == "seed") {
      g.sampling.seed = uint64_t(integer(k, 0, 9007199254740991.0));
    } else if (k == "stop") {
      val s = o[k];
      if (s.isString()) {
        g.stop.push_back(s.as<std::string>());
      } else if (val::global("Array").call<bool>("isArray", s)) {
        for (int j = 0; j < s["length"].as<int>(); ++j) {
          if (!s[j].isString()) throw Error("option 'stop' must be a string or an array of strings");
          g.stop.push_back(s[j].as<std::string>());
        }
      } else {
        throw Error("option 'stop' must be a string or an array of strings");
      }
    } else {
      throw Error("unknown generate option '" + k + "'");
    }
  }
  return g;
}

class TextStream {
 public:
  TextStream(std::shared_ptr<Loaded> m, GenerateOptions o)
      : m_(std::move(m)), layer_(o.attention_layer), gen_(*m_->model, *m_->tokenizer, std::move(o)) {}
  // Up to `max_events` token events as an array of {id, text, logprob}; empty once finished.
  val next(int max_events) {
    return guarded([&] {
      val out = val::array();
      TokenEvent ev;
      for (int i = 0; i < max_events && gen_.next(ev); ++i) {
        val e = val::object();
        e.set("id", ev.id);
        e.set("text", ev.text);
        e.set("logprob", ev.logprob);
        if (!ev.top.empty()) {
          val top = val::array();
          for (const auto& t : ev.top) {
            val a = val::object();
            a.set("id", t.id);
            a.set("text", t.text);
            a.set("logprob", t.logprob);
            top.call<void>("push", a);
          }
          e.set("top", top);
        }
        if (layer_ >= 0) {
          const int n = ev.attention_positions, heads = m_->model->info().attention_heads;
          val rows = val::array();
          for (int h = 0; h < heads; ++h) {
            val view(emscripten::typed_memory_view(size_t(n), ev.attention.data() + size_t(h) * n));
            rows.call<void>("push", val::global("Float32Array").new_(view));  // a copy: the view dies with ev
          }
          val att = val::object();
          att.set("layer", layer_);
          att.set("heads", rows);
          e.set("attention", att);
        }
        out.call<void>("push", e);
      }
      return out;
    });
  }
  void abort() { gen_.abort(); }
  std::string finish_reason() const { return finish_reason_name(gen_.finish_reason()); }
  int generated() const { return gen_.generated(); }
  int prompt_tokens() const { return int(gen_.prompt_tokens().size()); }

 private:
  std::shared_ptr<Loaded> m_;  // keeps the model alive while the stream lives
  int layer_;                  // attention layer to report, -1: none
  TextGenerator gen_;
};

class JsModel {
 public:
  JsModel(const val& bytes, const std::string& source) {
    guarded([&] {
      const size_t n = bytes["length"].as<size_t>();
      std::vector<uint8_t> v(n);
      val(emscripten::typed_memory_view(n, v.data())).call<void>("set", bytes);
      m_ = std::make_shared<Loaded>();
      m_->file = ModelFile::from_bytes(Bytes::from_vector(std::move(v)), source);
      m_->model = create_model(m_->file);
      if (m_->file->modality() == "text")
        m_->tokenizer = Tokenizer::from_json(m_->file->tokenizer(), m_->model->info().vocab_size, source);
      return 0;
    });
  }

  val info() const {
    const ModelInfo& i = m_->model->info();
    val o = val::object();
    o.set("arch", i.arch);
    o.set("modality", i.modality);
    o.set("name", i.name);
    o.set("description", i.description);
    o.set("vocabSize", i.vocab_size);
    o.set("contextLength", i.context_length);
    o.set("parameters", double(i.parameters));
    o.set("fileSize", double(m_->file->file_size()));
    if (m_->tokenizer) o.set("tokenizer", m_->tokenizer->type());
    val meta = val::object();
    for (const auto& [k, v] : m_->file->metadata()) meta.set(k, v);
    o.set("metadata", meta);
    return o;
  }

  TextStream* generate(const val& options) const {
    return guarded([&] {
      if (!m_->tokenizer) throw Error("generate() with text options needs a text model; this one is '" + m_->file->modality() + "'");
      return new TextStream(m_, text_options(options));
    });
  }

 private:
  std::shared_ptr<Loaded> m_;
};

}  // namespace
}  // namespace argen

EMSCRIPTEN_BINDINGS(argen) {
  using namespace emscripten;
  using namespace argen;
  class_<TextStream>("TextStream")
      .function("next", &TextStream::next)
      .function("abort", &TextStream::abort)
      .function("finishReason", &TextStream::finish_reason)
      .function("generated", &TextStream::generated)
      .function("promptTokens", &TextStream::prompt_tokens);
  class_<JsModel>("Model")
      .constructor<const val&, const std::string&>()
      .function("info", &JsModel::info)
      .function("generate", &JsModel::generate, allow_raw_pointers());
}
