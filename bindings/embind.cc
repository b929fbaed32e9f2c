// Thin Embind layer over the C++ API: no logic the native build lacks. Every C++ error becomes a JS
// Error carrying its message.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include "core/aligned.h"
#include "core/error.h"
#include "generate/generator.h"
#include "generate/media.h"
#include "ops/parallel.h"
#include "ops/roofline.h"

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

// Native objects JS holds (models and streams), for leak checks: JS must delete every one.
int live_objects = 0;
struct Live {
  Live() { ++live_objects; }
  Live(const Live&) = delete;
  ~Live() { --live_objects; }
};

struct Loaded {
  std::shared_ptr<ModelFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // text models only
};

// A JS options object read key by key; unknown keys are errors so typos don't pass silently.
class Options {
 public:
  explicit Options(const val& o) : o_(o) {
    if (!o.isUndefined() && !o.isNull() && o.typeOf().as<std::string>() != "object") throw Error("generate options must be an object");
  }
  // Calls f(key) for every key that is set; f returns false for keys it does not know.
  template <class F>
  void each(F f) const {
    if (o_.isUndefined() || o_.isNull()) return;
    const val keys = val::global("Object").call<val>("keys", o_);
    for (int i = 0, n = keys["length"].as<int>(); i < n; ++i) {
      const std::string k = keys[i].as<std::string>();
      if (!o_[k].isUndefined() && !f(k)) throw Error("unknown generate option '" + k + "'");
    }
  }
  val operator[](const std::string& k) const { return o_[k]; }
  double number(const std::string& k) const {
    val v = o_[k];
    if (v.typeOf().as<std::string>() != "number") throw Error("option '" + k + "' must be a number");
    return v.as<double>();
  }
  double integer(const std::string& k, double lo, double hi) const {
    double v = number(k);
    if (!(v >= lo && v <= hi) || v != double(int64_t(v)))
      throw Error("option '" + k + "' must be an integer in " + std::to_string(int64_t(lo)) + ".." + std::to_string(int64_t(hi)) +
                  ", found " + val(v).call<std::string>("toString"));
    return v;
  }
  // The sampling keys shared by every modality; false for other keys.
  bool sampling(const std::string& k, SamplingOptions& s) const {
    if (k == "temperature") s.temperature = float(number(k));
    else if (k == "topK") s.top_k = int(integer(k, -(1 << 30), 1 << 30));
    else if (k == "topP") s.top_p = float(number(k));
    else if (k == "minP") s.min_p = float(number(k));
    else if (k == "repetitionPenalty") s.repetition_penalty = float(number(k));
    else if (k == "repetitionWindow") s.repetition_window = int(integer(k, -(1 << 30), 1 << 30));
    else if (k == "seed") s.seed = uint64_t(integer(k, 0, 9007199254740991.0));
    else return false;
    return true;
  }

 private:
  val o_;
};

// A label option: an index, or one of the model's label names.
int label_index(const val& v, const std::string& key, const ModelInfo& info) {
  if (v.isString()) {
    const std::string name = v.as<std::string>();
    for (size_t i = 0; i < info.label_names.size(); ++i)
      if (info.label_names[i] == name) return int(i);
    throw Error("option '" + key + "': the model has no " + key + " named '" + name + "'");
  }
  if (v.typeOf().as<std::string>() != "number" || v.as<double>() != double(int64_t(v.as<double>())) || v.as<double>() < 0 ||
      v.as<double>() > (1 << 30))
    throw Error("option '" + key + "' must be a non-negative integer or a name");
  return int(v.as<double>());
}

GenerateOptions text_options(const val& js) {
  GenerateOptions g;
  g.sampling.temperature = 0.8f;
  Options o(js);
  o.each([&](const std::string& k) {
    if (o.sampling(k, g.sampling)) return true;
    if (k == "prompt") {
      if (!o[k].isString()) throw Error("option 'prompt' must be a string");
      g.prompt = o[k].as<std::string>();
    } else if (k == "maxTokens") {
      g.max_tokens = int(o.integer(k, 0, 1 << 24));
    } else if (k == "logprobs") {
      g.logprobs = int(o.integer(k, -(1 << 30), 1 << 30));
    } else if (k == "attentionLayer") {
      g.attention_layer = int(o.integer(k, -(1 << 30), 1 << 30));
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
      return false;
    }
    return true;
  });
  return g;
}

ImageOptions image_options(const val& js, const ModelInfo& info) {
  ImageOptions g;
  Options o(js);
  o.each([&](const std::string& k) {
    if (o.sampling(k, g.sampling)) return true;
    if (k == "label") {
      g.label = label_index(o[k], "label", info);
    } else if (k == "prefix") {
      val p = o[k];
      if (!val::global("ArrayBuffer").call<bool>("isView", p) && !val::global("Array").call<bool>("isArray", p))
        throw Error("option 'prefix' must be an array or typed array of levels");
      const int n = p["length"].as<int>();
      for (int i = 0; i < n; ++i) g.prefix.push_back(int(p[i].as<double>()));
    } else {
      return false;
    }
    return true;
  });
  return g;
}

AudioOptions audio_options(const val& js, const ModelInfo& info) {
  AudioOptions g;
  Options o(js);
  bool seconds = false, samples = false;
  o.each([&](const std::string& k) {
    if (o.sampling(k, g.sampling)) return true;
    if (k == "samples") {
      g.samples = int64_t(o.integer(k, 0, 9007199254740991.0)), samples = true;
    } else if (k == "seconds") {
      const double s = o.number(k);
      if (!(s >= 0 && s <= 1e7)) throw Error("option 'seconds' must be a number >= 0");
      g.samples = int64_t(std::llround(s * info.sample_rate)), seconds = true;
    } else if (k == "speaker") {
      g.speaker = label_index(o[k], "speaker", info);
    } else if (k == "chunkSize") {
      g.chunk = int(o.integer(k, -(1 << 30), 1 << 30));
    } else if (k == "priming") {
      val p = o[k];
      if (!p.instanceof(val::global("Float32Array"))) throw Error("option 'priming' must be a Float32Array of samples");
      g.priming.resize(p["length"].as<size_t>());
      val(emscripten::typed_memory_view(g.priming.size(), g.priming.data())).call<void>("set", p);
    } else if (k == "primingSampleRate") {
      g.priming_rate = int(o.integer(k, 1, 1 << 24));
    } else {
      return false;
    }
    return true;
  });
  if (seconds && samples) throw Error("give 'samples' or 'seconds', not both");
  return g;
}

class TextStream {
 public:
  Live live_;
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

class ImageStream {
 public:
  Live live_;
  ImageStream(std::shared_ptr<Loaded> m, ImageOptions o) : m_(std::move(m)), gen_(*m_->model, std::move(o)) {}
  // Up to `n` levels: {pos, values: Uint8Array (the model's levels), logprobs: Float32Array,
  // prefix: number of them given by the prefix}; values empty once finished.
  val next(int n) {
    return guarded([&] {
      const int pos = int(gen_.levels().size());
      values_.clear(), logprobs_.clear();
      int given = 0;
      PixelEvent ev;
      for (int i = 0; i < n && gen_.next(ev); ++i) {
        values_.push_back(uint8_t(ev.value)), logprobs_.push_back(ev.logprob);
        given += ev.prefix;
      }
      val out = val::object();
      out.set("pos", pos);
      out.set("prefix", given);
      out.set("values", val::global("Uint8Array").new_(val(emscripten::typed_memory_view(values_.size(), values_.data()))));
      out.set("logprobs", val::global("Float32Array").new_(val(emscripten::typed_memory_view(logprobs_.size(), logprobs_.data()))));
      return out;
    });
  }
  void abort() { gen_.abort(); }
  std::string finish_reason() const { return finish_reason_name(gen_.finish_reason()); }
  int generated() const { return gen_.generated(); }

 private:
  std::shared_ptr<Loaded> m_;
  ImageGenerator gen_;
  std::vector<uint8_t> values_;
  std::vector<float> logprobs_;
};

class AudioStream {
 public:
  Live live_;
  AudioStream(std::shared_ptr<Loaded> m, AudioOptions o) : m_(std::move(m)), gen_(*m_->model, std::move(o)) {}
  // The next chunk of samples as a Float32Array (a copy); empty once finished.
  val next() {
    return guarded([&] {
      gen_.next(chunk_);
      return val::global("Float32Array").new_(val(emscripten::typed_memory_view(chunk_.size(), chunk_.data())));
    });
  }
  void abort() { gen_.abort(); }
  std::string finish_reason() const { return finish_reason_name(gen_.finish_reason()); }
  double generated() const { return double(gen_.generated()); }

 private:
  std::shared_ptr<Loaded> m_;
  AudioGenerator gen_;
  std::vector<float> chunk_;
};

class JsModel {
 public:
  Live live_;
  JsModel(const val& bytes, const std::string& source, const std::string& weights) {
    guarded([&] {
      const double n = bytes["length"].as<double>();
      auto too_large = [&](const char* why) {
        return Error(source + ": the model file is " + std::to_string(uint64_t(n)) + " bytes; " + why + " (the wasm heap holds at most " +
                     std::to_string(kDefaultMemoryLimit) + " bytes)");
      };
      if (n > double(kDefaultMemoryLimit)) throw too_large("that is over the memory limit");
      AlignedVector<uint8_t> v;  // aligned as the file's tensors are (models/safetensors_io.py)
      try {
        v.resize(size_t(n));
      } catch (const std::bad_alloc&) {
        throw too_large("there is not enough free memory to hold it");
      }
      val(emscripten::typed_memory_view(v.size(), v.data())).call<void>("set", bytes);
      m_ = std::make_shared<Loaded>();
      LoadOptions opts;
      if (weights != "f32" && weights != "int8") throw Error("weights must be 'f32' or 'int8', found '" + weights + "'");
      opts.int8 = weights == "int8";
      m_->file = ModelFile::from_bytes(Bytes::from_vector(std::move(v)), source, opts);
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
    o.set("weights", std::string(m_->file->int8() ? "int8" : "f32"));
    if (m_->tokenizer) o.set("tokenizer", m_->tokenizer->type());
    if (i.modality == "image") o.set("height", i.height), o.set("width", i.width), o.set("channels", i.channels);
    if (i.modality == "audio") o.set("sampleRate", i.sample_rate);
    o.set("attentionLayers", i.attention_layers);
    o.set("attentionHeads", i.attention_heads);
    o.set("numLabels", i.num_labels);
    val names = val::array();
    for (const auto& n : i.label_names) names.call<void>("push", n);
    o.set("labels", names);
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
  ImageStream* generate_image(const val& options) const {
    return guarded([&] { return new ImageStream(m_, image_options(options, m_->model->info())); });
  }
  AudioStream* generate_audio(const val& options) const {
    return guarded([&] { return new AudioStream(m_, audio_options(options, m_->model->info())); });
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
  class_<ImageStream>("ImageStream")
      .function("next", &ImageStream::next)
      .function("abort", &ImageStream::abort)
      .function("finishReason", &ImageStream::finish_reason)
      .function("generated", &ImageStream::generated);
  class_<AudioStream>("AudioStream")
      .function("next", &AudioStream::next)
      .function("abort", &AudioStream::abort)
      .function("finishReason", &AudioStream::finish_reason)
      .function("generated", &AudioStream::generated);
  function("setThreads", +[](int n) { guarded([&] { ops::set_threads(n); return 0; }); });
  function("threads", &ops::threads);
  function("liveObjects", +[] { return live_objects; });
  function("roofline", +[] {  // bench/roofline.mjs
    const auto r = ops::measure_roofline();
    val o = val::object();
    o.set("cacheGbps", r.cache_gbps), o.set("memoryGbps", r.memory_gbps), o.set("peakGflops", r.peak_gflops);
    o.set("peakInt8Gmacs", r.peak_int8_gmacs), o.set("simd", r.simd);
    return o;
  });
  function("readGbps", +[](double bytes) {  // bench/roofline.mjs: bandwidth at a model's working set
    if (!ops::read_bytes_ok(bytes)) throw_js("readGbps: bytes must be a whole number from 4096 to 2^30");
    return ops::read_gbps(size_t(bytes));
  });
  class_<JsModel>("Model")
      .constructor<const val&, const std::string&, const std::string&>()
      .function("info", &JsModel::info)
      .function("generate", &JsModel::generate, allow_raw_pointers())
      .function("generateImage", &JsModel::generate_image, allow_raw_pointers())
      .function("generateAudio", &JsModel::generate_audio, allow_raw_pointers());
}
