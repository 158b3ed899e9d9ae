// mlp_gemm.cpp — see mlp_gemm.h.
#include "models/mlp_gemm.h"

#include <dlfcn.h>

#include <atomic>

#include <ATen/ATen.h>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace anila {

namespace {

// oneDNN's C API (dnnl.h, unchanged since oneDNN 1.0): row-major sgemm, 0 = success.
using DnnlSgemm = int (*)(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                          float* C, int64_t ldc);

DnnlSgemm dnnl_sgemm() {
  static const DnnlSgemm fn = reinterpret_cast<DnnlSgemm>(dlsym(RTLD_DEFAULT, "dnnl_sgemm"));
  return fn;
}

std::atomic<bool> use_onednn{true};

// Sets OpenMP's thread count for this thread while in scope (no-op without OpenMP).
class OmpThreads {
 public:
  explicit OmpThreads(bool one) {
#ifdef _OPENMP
    if (one && omp_get_max_threads() > 1) {
      previous_ = omp_get_max_threads();
      omp_set_num_threads(1);
    }
#endif
  }
  ~OmpThreads() {
#ifdef _OPENMP
    if (previous_ > 0) omp_set_num_threads(previous_);
#endif
  }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_ = 0;
};

void aten_sgemm(bool b_transposed, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
                float beta, float* C) {
  at::Tensor a = at::from_blob(const_cast<float*>(A), {M, K});
  at::Tensor b = b_transposed ? at::from_blob(const_cast<float*>(B), {N, K}).t()
                              : at::from_blob(const_cast<float*>(B), {K, N});
  at::Tensor c = at::from_blob(C, {M, N});
  if (beta == 0) {
    at::mm_out(c, a, b);
  } else {
    at::addmm_out(c, c, a, b, beta, /*alpha=*/1);
  }
}

}  // namespace

void mlp_sgemm(bool b_transposed, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
               float beta, float* C) {
  DnnlSgemm fn = use_onednn.load(std::memory_order_relaxed) ? dnnl_sgemm() : nullptr;
  if (fn) {
    OmpThreads threads(/*one=*/M * N * K <= kSmallGemm);
    if (fn('N', b_transposed ? 'T' : 'N', M, N, K, 1.0f, A, K, B, b_transposed ? K : N, beta, C,
           N) == 0) {
      return;
    }
  }
  aten_sgemm(b_transposed, M, N, K, A, B, beta, C);
}

const char* mlp_gemm_backend() {
  return use_onednn.load() && dnnl_sgemm() ? "onednn" : "aten";
}

bool mlp_gemm_use_onednn(bool on) {
  return use_onednn.exchange(on);
}

}  // namespace anila
