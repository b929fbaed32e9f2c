// Compiles ops-inl.h once per SIMD target and dispatches to the best one the CPU supports.
#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/ops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/ops-inl.h"

#if HWY_ONCE
#include "hwy/targets.h"

namespace argen {
HWY_EXPORT(MatVec);
HWY_EXPORT(MatVecAcc);
HWY_EXPORT(Add);
HWY_EXPORT(Mul);
HWY_EXPORT(Tanh);
HWY_EXPORT(Sigmoid);
HWY_EXPORT(Relu);
HWY_EXPORT(Softmax);
HWY_EXPORT(LogSoftmax);
HWY_EXPORT(ArgMax);

namespace ops {
void matvec(const float* W, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVec)(W, rows, cols, x, bias, y);
}
void matvec_acc(const float* W, size_t rows, size_t cols, const float* x, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecAcc)(W, rows, cols, x, y);
}
void add(const float* a, const float* b, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(Add)(a, b, out, n); }
void mul(const float* a, const float* b, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(Mul)(a, b, out, n); }
void tanh(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Tanh)(x, n); }
void sigmoid(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Sigmoid)(x, n); }
void relu(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Relu)(x, n); }
void softmax(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }
void log_softmax(const float* x, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(LogSoftmax)(x, out, n); }
size_t argmax(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(ArgMax)(x, n); }

const char* simd_target() {
#if defined(__EMSCRIPTEN__)
  return hwy::TargetName(HWY_STATIC_TARGET);
#else
  const int64_t t = int64_t(hwy::SupportedTargets()) & int64_t(HWY_TARGETS);
  return hwy::TargetName(t & -t);  // the lowest bit is the best target
#endif
}
}  // namespace ops
}  // namespace argen
#endif  // HWY_ONCE
