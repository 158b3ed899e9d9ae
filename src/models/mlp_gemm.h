// mlp_gemm.h — row-major float32 matrix products for the MLP's fused pass.
//
//   C[M, N] = A[M, K] · op(B) + β C,   op(B) = B: [K, N], or Bᵀ with B: [N, K].
//
// Uses oneDNN's dnnl_sgemm when this process has it (Debian's LibTorch links the
// shared libdnnl; its JIT kernels use AVX-512 where the CPU has it and were about
// 1.8× OpenBLAS's on the [100 × 64] products of a 2D sampler step on the
// development machine), otherwise at::mm_out / at::addmm_out (any BLAS LibTorch
// was built with; LibTorch 2.x wheels keep oneDNN's symbols private). A product
// of at most kSmallGemm multiply-adds runs on one OpenMP thread: at that size
// waking threads costs more than it saves.
#pragma once

#include <cstdint>

namespace anila {

constexpr int64_t kSmallGemm = int64_t{1} << 21;

void mlp_sgemm(bool b_transposed, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
               float beta, float* C);

// "onednn" or "aten": what mlp_sgemm uses now.
const char* mlp_gemm_backend();
// Tests: use oneDNN (where present) or force ATen; returns the previous setting.
bool mlp_gemm_use_onednn(bool on);

}  // namespace anila
