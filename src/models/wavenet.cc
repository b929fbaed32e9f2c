// wavenet: WaveNet over mu-law codes with Fast WaveNet generation (Paine et al., 2016); names as
// in models/wavenet.py. Per sample and layer (dilation d):
//   z = W_past x(t-d) + W_cur x(t) + b (+ speaker row); g = tanh(z[:D]) * sigmoid(z[D:]);
//   x += W_res g + b_res;  skip_sum += W_skip g + b_skip
// then relu -> out1 -> relu -> out2 gives the logits of the next code. x(t-d) comes from a ring
// buffer of the layer's last d inputs, so a sample costs one step per layer whatever the receptive
// field; the buffers start at zero, which is the zero padding of the full (PyTorch) forward pass.
//
// W_past x(t-d) needs no input later than x(t-d), so a layer makes it for a block of b samples at
// once (b: the largest divisor of d up to kPastBatch and d / 2; block k: samples kb .. kb+b-1) from
// the ring's slots of x(kb-d) .. x(kb+b-1-d), side by side: one matrix-matrix product reads W_past
// once per block, not once per sample (wavenet-20, one thread: 1.09-1.11x natively with float32
// weights, 1.05-1.07x int8; 1.02x and 1.05x in wasm; two threads even). Blocks alternate between
// two buffers, so block k is made during block k-1, at sample kb-1-o. Where d >= 2b (every d > 1)
// its inputs are then older than that sample, and the offset o (0 <= o < b) spreads the layers'
// products over the samples (spread_past_products); else (d = 1) o = 0 and it is made after the
// layer's step, which stores its input x(kb-1).
//
// Two threads share a sample. Only W_cur, the gate and W_res are on the path from one layer to the
// next. The skip products (wanted only by the head) and the past products are tasks for a second
// thread: each skip as soon as the layers have passed it, and in between the past products due
// (those of d >= 2b need no input of this sample; the others after their layer), while the first
// thread goes on. At the end the first claims the skips not yet taken (from the last layer down),
// and after the head any past product left. The second thread sums its skips as it goes (a prefix
// of the layers), the first adds its own after, so the sum is in layer order and the logits are the
// same with one thread or two. One thread alone (no worker free) makes each layer's skip and past
// products right after the layer, without claims (their atomic exchanges and the skips' late
// reads of the gates cost it 8% of a native int8 sample). The threads meet a few times per
// sample, not per product: where the cores are far apart, each meeting costs about half a
// microsecond.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "core/aligned.h"
#include "core/error.h"
#include "models/blocks.h"
#include "models/model.h"
#include "ops/ops.h"
#include "ops/parallel.h"

namespace argen {
namespace {

struct Layer {
  int d = 1;
  int b = 1;                     // samples per past product (a block): a divisor of d
  int o = 0;                     // block k's past product is made at sample kb - 1 - o
  // Block k's inputs are all older than sample kb-1-o: it can be made before the layer's step.
  bool early() const { return d >= 2 * b; }
  Weight past, cur;              // [2D, R] each: the dilated convolution's taps on x(t-d) and x(t)
  Tensor dilated_b, cond;
  Weight res, skip;              // [R, D], [S, D]
  Tensor res_b, skip_b;
  size_t offset = 0;             // this layer's ring buffer in WaveNetState::rings
};

// The most samples one past product is made for: its outputs (2 x kPastBatch x 2D floats per
// layer) stay small, and blocks of 4-16 ran alike (wavenet-20).
constexpr int kPastBatch = 8;

// The layers tell the other thread of their progress every this many layers (each telling moves a
// cache line between cores).
constexpr size_t kPublishEvery = 4;

// Per-layer vectors that one thread writes while the other reads a neighbour's: each layer's on
// cache lines of its own, so that the two threads do not invalidate each other's lines.
template <class T>
class LayerSlices {
 public:
  static constexpr size_t kLine = 64 / sizeof(T);
  void resize(size_t layers, size_t n) {
    stride_ = (n + kLine - 1) / kLine * kLine;
    buf_.assign(layers * stride_ + kLine, T(0));
    base_ = buf_.data() + (kLine - reinterpret_cast<uintptr_t>(buf_.data()) / sizeof(T) % kLine) % kLine;
  }
  T* operator[](size_t l) { return base_ + l * stride_; }

 private:
  std::vector<T> buf_;
  T* base_ = nullptr;
  size_t stride_ = 0;
};

// With int8 weights each x(t) and each gate vector is quantized once (x(t) for W_cur x(t) now and
// W_past x(t) d samples later; the gates for W_res and W_skip), not per product: quantizing was 12%
// of a native int8 sample. Its int8 form sits in a slot of int16 values, zeros after them but for
// the slot's last two, which hold its scale (a float); each slot on cache lines of its own. Runs of
// slots are then positions for ops::matmul_q8 (zeros past n up to a whole group of columns).
inline size_t q8_slot(size_t n) { return (n + ops::kPanelColsQ8 + 1 + 31) / 32 * 32; }
inline float q8_scale(const int16_t* slot, size_t n) {
  float scale;
  std::memcpy(&scale, slot + q8_slot(n) - 2, sizeof scale);
  return scale;
}
inline ops::Vector q8_vector(const float* x, const int16_t* slot, size_t n) { return {x, slot, q8_scale(slot, n)}; }
inline void quantize_into(const float* x, size_t n, int16_t* slot) {
  const float scale = ops::quantize_vector_q8(x, n, slot);
  std::memcpy(slot + q8_slot(n) - 2, &scale, sizeof scale);
}

struct WaveNetState : State {
  int64_t t = 0;                 // samples consumed
  int speaker = -1;
  std::vector<int> codes;        // the last K-1 codes (input convolution), -1: none yet
  std::vector<float> rings;      // per layer [d, R]: inputs x(t-d) .. x(t-1), slot t % d (float32 weights)
  AlignedVector<int16_t> rings_q8;  // the same in int8 form, slots of q8_slot(R) (int8 weights)
  std::vector<float> x, z, r, skip, hidden, embed_patch;
  // Per layer [2, b, 2D]: W_past x(t-d) + bias (+ speaker row) of sample t in buffer t / b % 2,
  // row t % b (past_row).
  LayerSlices<float> past;
  LayerSlices<float> gates;      // per layer [D], this sample's
  LayerSlices<int16_t> gates_q8; // their int8 form (int8 weights): slots of q8_slot(D)
  LayerSlices<float> skips;      // per layer [S]: W_skip g + b_skip, this sample's
  std::unique_ptr<std::atomic<bool>[]> taken;  // per layer: its skip product, then its past product
  std::vector<float> prefix;     // [S]: skips 0..prefix_len-1 summed in order by the side thread
  // Each flag on its own cache line: the other thread spins on it.
  alignas(64) std::atomic<int> layers_done{0};  // layers of this sample whose gates and outputs exist
  alignas(64) std::atomic<int> prefix_len{0};
};

class WaveNet : public Model {
 public:
  explicit WaveNet(std::shared_ptr<const ModelFile> f) : Model(std::move(f)) {
    const ModelFile& mf = *file_;
    const auto& cfg = mf.config();
    R_ = int(mf.config_int("residual_channels", 1, 1 << 14));
    D_ = int(mf.config_int("dilation_channels", 1, 1 << 14));
    S_ = int(mf.config_int("skip_channels", 1, 1 << 14));
    Hd_ = int(mf.config_int("head_hidden", 1, 1 << 14));
    Q_ = int(mf.config_int("quantization", 2, 65536, 256));
    K_ = int(mf.config_int("input_kernel", 1, 64, 2));
    speakers_ = int(mf.config_int("num_speakers", 0, 1 << 20, 0));
    rate_ = int(mf.config_int("sample_rate", 1, 1 << 20));
    const std::string input = mf.config_string("input", "one_hot");
    if (input != "one_hot" && input != "embedding")
      throw mf.error("config key 'input' is '" + input + "', expected 'one_hot' or 'embedding'");
    if (cfg.contains("local_conditioning") && !cfg["local_conditioning"].is_null())
      throw mf.error("config key 'local_conditioning' is set: local conditioning is not supported");
    E_ = input == "embedding" ? int(mf.config_int("embedding_dim", 1, 1 << 14, R_)) : 0;
    if (!cfg.contains("dilations") || !cfg["dilations"].is_array() || cfg["dilations"].empty() || cfg["dilations"].size() > 4096)
      throw mf.error("config key 'dilations' must be a list of 1..4096 positive integers");
    uint64_t ring = 0;
    for (const auto& d : cfg["dilations"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (1 << 20))
        throw mf.error("config key 'dilations' holds " + json_brief(d) + ", expected integers 1..1048576");
      ring += uint64_t(d.get<int64_t>()) * R_;
    }
    check_state_bytes(mf, ring * sizeof(float), "the dilation queues");
    // Per layer: two blocks of past products, the gates and the skip outputs.
    check_state_bytes(mf, cfg["dilations"].size() * (2 * uint64_t(kPastBatch) * 2 * D_ + D_ + S_) * sizeof(float),
                      "the layers' buffers");
    describe(Q_, 0);
    info_.sample_rate = rate_;
    info_.num_labels = speakers_;
    if (cfg.contains("speaker_names")) {
      const auto& names = cfg["speaker_names"];
      if (!names.is_array() || int(names.size()) != speakers_)
        throw mf.error("config key 'speaker_names' must be a list of num_speakers (" + std::to_string(speakers_) + ") strings");
      for (const auto& n : names) {
        if (!n.is_string()) throw mf.error("config key 'speaker_names' must hold strings, found " + json_brief(n));
        info_.label_names.push_back(n.get<std::string>());
      }
    }

    const int64_t R = R_, D2 = 2 * D_;
    const int64_t cin = E_ ? E_ : Q_;
    if (E_) embed_ = weight("embed.weight", {Q_, E_});
    Tensor causal = weight("causal.weight", {R, cin, K_});
    causal_b_ = weight("causal.bias", {R});
    if (E_) {
      causal_ = conv_matrix(causal);  // [R, K*E]
    } else {  // one-hot: per tap, the column of each code, contiguous: [K, Q, R]
      causal_.resize(causal.size());
      for (int64_t r = 0; r < R; ++r)
        for (int64_t q = 0; q < Q_; ++q)
          for (int64_t k = 0; k < K_; ++k) causal_[(k * Q_ + q) * R + r] = causal.data[(r * Q_ + q) * K_ + k];
    }
    size_t offset = 0;
    for (size_t l = 0; l < cfg["dilations"].size(); ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      Layer y;
      y.d = cfg["dilations"][l].get<int>();
      for (int b = std::min(std::max(y.d / 2, 1), kPastBatch); b >= 1; --b)
        if (y.d % b == 0) {
          y.b = b;
          break;
        }
      // conv_matrix: [2D, 2R], columns x(t-d) then x(t); each half its own matrix (and int8 scales).
      const std::vector<float> dilated = conv_matrix(weight(p + "dilated.weight", {D2, R, 2}));
      std::vector<float> past(size_t(D2 * R)), cur(size_t(D2 * R));
      for (int64_t o = 0; o < D2; ++o) {
        std::copy_n(dilated.data() + o * 2 * R, R, past.data() + o * R);
        std::copy_n(dilated.data() + o * 2 * R + R, R, cur.data() + o * R);
      }
      y.past = matrix(past, D2, R);
      y.cur = matrix(cur, D2, R);
      y.dilated_b = weight(p + "dilated.bias", {D2});
      y.res = matrix(p + "res.weight", {R, D_, 1});
      y.res_b = weight(p + "res.bias", {R});
      y.skip = matrix(p + "skip.weight", {S_, D_, 1});
      y.skip_b = weight(p + "skip.bias", {S_});
      if (speakers_) y.cond = weight(p + "cond.weight", {speakers_, D2});
      y.offset = offset;
      offset += size_t(y.d) * R;
      layers_.push_back(std::move(y));
    }
    ring_floats_ = offset;
    spread_past_products();
    int8_ = std::all_of(layers_.begin(), layers_.end(),
                        [](const Layer& y) { return y.past.int8() && y.cur.int8() && y.res.int8() && y.skip.int8(); });
    if (int8_) check_state_bytes(mf, ring_floats_ / R_ * q8_slot(R_) * sizeof(int16_t), "the dilation queues");
    out1_w_ = matrix("out1.weight", {Hd_, S_, 1});
    out1_b_ = weight("out1.bias", {Hd_});
    out2_w_ = matrix("out2.weight", {Q_, Hd_, 1});
    out2_b_ = weight("out2.bias", {Q_});
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<WaveNetState>();
    const size_t L = layers_.size();
    s->codes.assign(K_ - 1, -1);
    if (int8_) {
      // Zero inputs, as quantize_vector_q8 writes them: values 0, scale 1.
      const size_t slots = ring_floats_ / R_, slot = q8_slot(R_);
      const float one = 1.0f;
      s->rings_q8.assign(slots * slot, 0);
      for (size_t i = 0; i < slots; ++i) std::memcpy(s->rings_q8.data() + (i + 1) * slot - 2, &one, sizeof one);
      s->gates_q8.resize(L, q8_slot(D_));
    } else {
      s->rings.assign(ring_floats_, 0.0f);
    }
    s->x.resize(R_);
    s->z.resize(2 * D_);
    s->r.resize(R_);
    s->skip.resize(S_);
    s->hidden.resize(Hd_);
    s->embed_patch.resize(size_t(K_) * std::max(E_, 1));
    s->past.resize(L, 2 * size_t(kPastBatch) * 2 * D_);
    s->gates.resize(L, D_);
    s->skips.resize(L, S_);
    s->taken = std::make_unique<std::atomic<bool>[]>(2 * L);
    s->prefix.resize(S_);
    return s;
  }

  void set_label(State& state, int speaker) const override {
    auto& s = static_cast<WaveNetState&>(state);
    if (!speakers_) Model::set_label(state, speaker);
    if (speaker < 0 || speaker >= speakers_)
      throw Error("speaker " + std::to_string(speaker) + " is out of range: the model has " + std::to_string(speakers_) +
                  " speakers (0.." + std::to_string(speakers_ - 1) + ")");
    if (s.t != 0) throw Error("the speaker must be set before the first sample");
    s.speaker = speaker;
  }

  void step(State& state, int code, float* logits) const override {
    auto& s = static_cast<WaveNetState&>(state);
    if (code < 0 || code >= Q_) throw Error("mu-law code " + std::to_string(code) + " is out of range 0.." + std::to_string(Q_ - 1));
    if (speakers_ && s.speaker < 0)
      throw Error("this model is conditioned on a speaker: set one 0.." + std::to_string(speakers_ - 1));
    const int R = R_;
    // Input convolution over the last K codes (missing ones are zero padding).
    std::copy_n(causal_b_.data, R, s.x.data());
    for (int k = 0; k < K_; ++k) {
      const int c = k == K_ - 1 ? code : s.codes[k];
      if (E_) {
        float* e = s.embed_patch.data() + size_t(k) * E_;
        if (c < 0)
          std::fill(e, e + E_, 0.0f);
        else
          std::copy_n(embed_.data + size_t(c) * E_, E_, e);
      } else if (c >= 0) {
        ops::add(s.x.data(), causal_.data() + (size_t(k) * Q_ + c) * R, s.x.data(), R);
      }
    }
    if (E_) ops::matvec_acc(causal_.data(), R, size_t(K_) * E_, s.embed_patch.data(), s.x.data());
    if (K_ > 1) {
      std::copy(s.codes.begin() + 1, s.codes.end(), s.codes.begin());
      s.codes.back() = code;
    }

    // This sample's past products were made during an earlier one (side tasks), except block 0's.
    if (s.t == 0)
      for (size_t l = 0; l < layers_.size(); ++l) past_product(s, l, 0);
    for (size_t i = 0; i < 2 * layers_.size(); ++i) s.taken[i].store(false, std::memory_order_relaxed);
    s.layers_done.store(0, std::memory_order_relaxed);
    s.prefix_len.store(0, std::memory_order_relaxed);
    // Two parts: the layers and head, and the side tasks; with one thread the first does all.
    struct Ctx { const WaveNet* m; WaveNetState* s; float* logits; } ctx{this, &s, logits};
    ops::parallel_for(2, 1, [](size_t b, size_t e, void* p) {
      auto& c = *static_cast<Ctx*>(p);
      if (b == 0) c.m->layers_and_head(*c.s, c.logits, e == 2);
      if (b == 1) c.m->side_tasks(*c.s);
    }, &ctx);
    ++s.t;
  }

 private:
  // alone: no second thread; its tasks run here in layer order, without claims.
  void layers_and_head(WaveNetState& s, float* logits, bool alone) const {
    const int R = R_, D = D_;
    const size_t L = layers_.size();
    for (size_t l = 0; l < L; ++l) {
      const Layer& y = layers_[l];
      // x(t), read at t + d
      ops::Vector x{s.x.data()};
      if (int8_) {
        int16_t* slot = ring_q8(s, y, s.t);
        quantize_into(s.x.data(), R, slot);
        x = q8_vector(s.x.data(), slot, R);
      } else {
        std::copy_n(s.x.data(), R, s.rings.data() + y.offset + size_t(s.t % y.d) * R);
      }
      ops::matvec(y.cur, x, past_row(s, l, s.t), s.z.data());
      gate(s.z.data(), D, s.gates[l]);
      if (int8_) quantize_into(s.gates[l], D, s.gates_q8[l]);
      ops::matvec(y.res, gates(s, l), y.res_b.data, s.r.data());
      ops::add(s.x.data(), s.r.data(), s.x.data(), R);
      if (alone) {
        skip_product(s, l);
        if (past_due(s, l)) past_product(s, l, next_block(s, l));
      } else if ((l + 1) % kPublishEvery == 0 || l + 1 == L) {
        s.layers_done.store(int(l + 1), std::memory_order_release);
      }
    }
    // The skips from the last layer down until one the side thread has; it sums layers 0..k-1.
    size_t k = alone ? 0 : L;
    while (k > 0 && claim(s, 2 * (k - 1))) skip_product(s, --k);
    while (s.prefix_len.load(std::memory_order_acquire) < int(k)) {}
    std::copy_n(k ? s.prefix.data() : s.skips[0], S_, s.skip.data());
    for (size_t l = std::max<size_t>(k, 1); l < L; ++l) ops::add(s.skip.data(), s.skips[l], s.skip.data(), S_);
    ops::relu(s.skip.data(), S_);
    ops::matvec(out1_w_, s.skip.data(), out1_b_.data, s.hidden.data());
    ops::relu(s.hidden.data(), Hd_);
    ops::matvec(out2_w_, s.hidden.data(), out2_b_.data, logits);
    for (size_t l = L; !alone && l-- > 0;)
      if (past_due(s, l) && claim(s, 2 * l + 1)) past_product(s, l, next_block(s, l));
  }

  // The side tasks: each skip as soon as the layers have passed it (the layers' thread wants them
  // all right after its last layer), and while waiting for the layers, the past products due that
  // need no input of this sample (early); the others after their layer. Skips stop at the first
  // one the layers' thread has claimed (it claims from the last layer down).
  void side_tasks(WaveNetState& s) const {
    const size_t L = layers_.size();
    size_t filler = 0;  // the next layer whose early past product may be due
    auto past_filler = [&] {
      while (filler < L) {
        const size_t l = filler++;
        if (layers_[l].early() && past_due(s, l) && claim(s, 2 * l + 1)) {
          past_product(s, l, next_block(s, l));
          return true;
        }
      }
      return false;
    };
    bool skips = true;
    for (size_t l = 0; l < L; ++l) {
      while (s.layers_done.load(std::memory_order_acquire) <= int(l))
        if (!past_filler())
          while (s.layers_done.load(std::memory_order_acquire) <= int(l)) {}
      if (skips && claim(s, 2 * l)) {
        skip_product(s, l);
        if (l == 0)
          std::copy_n(s.skips[0], S_, s.prefix.data());
        else
          ops::add(s.prefix.data(), s.skips[l], s.prefix.data(), S_);
        s.prefix_len.store(int(l + 1), std::memory_order_release);
      } else {
        skips = false;
      }
      if (!layers_[l].early() && past_due(s, l) && claim(s, 2 * l + 1)) past_product(s, l, next_block(s, l));
    }
    while (past_filler()) {}
  }

  // Claims a task no thread has taken; the plain load first spares an exchange (and the cache
  // line's trip to this core in exclusive state) for tasks already taken.
  static bool claim(WaveNetState& s, size_t task) {
    return !s.taken[task].load(std::memory_order_relaxed) && !s.taken[task].exchange(true, std::memory_order_acq_rel);
  }

  void skip_product(WaveNetState& s, size_t l) const {
    const Layer& y = layers_[l];
    ops::matvec(y.skip, gates(s, l), y.skip_b.data, s.skips[l]);
  }

  // Layer l's gates of this sample, with their int8 form (int8 weights).
  ops::Vector gates(WaveNetState& s, size_t l) const {
    return int8_ ? q8_vector(s.gates[l], s.gates_q8[l], D_) : ops::Vector{s.gates[l]};
  }
  // Layer y's ring slot for x(t) in int8 form.
  int16_t* ring_q8(WaveNetState& s, const Layer& y, int64_t t) const {
    return s.rings_q8.data() + (y.offset / R_ + size_t(t % y.d)) * q8_slot(R_);
  }

  // The early layers' offsets: each where the fewest past products are due already, over a period of
  // the blocks' sizes' least common multiple (at most 840), so that no sample gathers many of them
  // (with 2 threads the side thread's, which the layers' thread takes over where it falls behind).
  void spread_past_products() {
    size_t period = 1;
    for (const Layer& y : layers_) period = std::lcm(period, size_t(y.b));
    std::vector<int> due(period, 0);  // positions made at the samples t with (t + 1) % period = r
    auto add = [&](const Layer& y) {
      for (size_t r = 0; r < period; ++r)
        if ((r + y.o) % y.b == 0) due[r] += y.b;
    };
    for (const Layer& y : layers_)
      if (!y.early()) add(y);
    for (Layer& y : layers_) {
      if (!y.early()) continue;
      int fewest = std::numeric_limits<int>::max();
      for (int o = 0; o < y.b; ++o) {
        int most = 0;  // the most due at a sample this offset would add to
        for (size_t r = size_t(y.b - o) % y.b; r < period; r += y.b) most = std::max(most, due[r]);
        if (most < fewest) fewest = most, y.o = o;
      }
      add(y);
    }
  }

  // Layer l's W_past x(t-d) + bias (+ speaker row), the bias of its dilated convolution at sample t.
  float* past_row(WaveNetState& s, size_t l, int64_t t) const {
    const int64_t b = layers_[l].b;
    return s.past[l] + size_t(t / b % 2 * b + t % b) * 2 * D_;
  }
  // Whether layer l makes a block's past products during this sample, and which block's (its first sample).
  bool past_due(const WaveNetState& s, size_t l) const { return (s.t + 1 + layers_[l].o) % layers_[l].b == 0; }
  int64_t next_block(const WaveNetState& s, size_t l) const { return s.t + 1 + layers_[l].o; }
  // Layer l's past products for samples u = t .. t+b-1 (t a multiple of b). Their x(u-d) are the
  // ring's slots t % d .. t % d + b - 1 (b divides d: no wrap), written by sample t-1-o at the
  // latest (o < b <= d - b where d >= 2b); where o = 0 the last is the x(s.t) this sample stored.
  void past_product(WaveNetState& s, size_t l, int64_t t) const {
    const Layer& y = layers_[l];
    const size_t D2 = 2 * size_t(D_), b = size_t(y.b);
    float* p = past_row(s, l, t);
    const float* x = int8_ ? nullptr : s.rings.data() + y.offset + size_t(t % y.d) * R_;
    const int16_t* xq = int8_ ? ring_q8(s, y, t) : nullptr;
    if (b == 1) {
      ops::matvec(y.past, int8_ ? q8_vector(nullptr, xq, R_) : ops::Vector{x}, y.dilated_b.data, p);
    } else if (int8_) {
      float xs[kPastBatch];
      for (size_t i = 0; i < b; ++i) xs[i] = q8_scale(xq + i * q8_slot(R_), R_);
      ops::matmul_q8(y.past, xq, q8_slot(R_), xs, b, y.dilated_b.data, p);
    } else {
      ops::matmul(y.past, x, b, y.dilated_b.data, p);
    }
    if (speakers_)
      for (size_t i = 0; i < b; ++i) ops::add(p + i * D2, y.cond.data + size_t(s.speaker) * D2, p + i * D2, D2);
  }

  int R_ = 0, D_ = 0, S_ = 0, Hd_ = 0, Q_ = 0, K_ = 0, E_ = 0, speakers_ = 0, rate_ = 0;
  Tensor embed_, causal_b_, out1_b_, out2_b_;
  Weight out1_w_, out2_w_;
  std::vector<float> causal_;    // the input layer stays float32 (small; reads embeddings or codes)
  std::vector<Layer> layers_;
  size_t ring_floats_ = 0;        // the rings' values: sum of d * R
  bool int8_ = false;              // every layer's weights are int8
};

}  // namespace

std::unique_ptr<Model> create_wavenet(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<WaveNet>(std::move(file));
}

}  // namespace argen
