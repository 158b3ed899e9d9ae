// test_mlp_fused.cpp — the MLP's fused CPU float32 value-and-gradient pass
// (models/mlp_fused.h): same f and ∇_z f as autograd for every activation and
// both matrix-product back ends, no allocations in steady state (a counting CPU
// allocator), output buffers never handed out while someone holds them, weights
// updated in place are seen, and training (parameter gradients) is unchanged.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>

#include "anila/models/energy.h"
#include "anila/models/mlp.h"
#include "models/mlp_gemm.h"

using namespace anila;

namespace {

const char* const kActivations[] = {"leaky_relu", "relu", "elu", "silu", "tanh", "softplus"};

std::shared_ptr<MLPEnergy> mlp(const std::string& act, bool fast_path = true) {
  at::manual_seed(3);
  auto model =
      make_model(Json{{"type", "mlp"}, {"activation", act}, {"fast_path", fast_path}}, {2});
  return std::dynamic_pointer_cast<MLPEnergy>(model);
}

// f and ∇_z f by autograd through forward() (the nn::Linear layers).
LogDensityValue autograd(MLPEnergy& model, const at::Tensor& z) {
  at::Tensor zr = z.clone().requires_grad_(true);
  at::Tensor f = model.forward(zr);
  f.sum().backward();
  return {f.detach(), zr.grad()};
}

// |a - b| ≤ 1e-5·(1 + |b|) elementwise: float32 rounding of sums of ~64 terms.
void expect_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double worst = ((a - b).abs() / (1 + b.abs())).max().item<double>();
  EXPECT_LT(worst, 1e-5) << what;
}

// Counts CPU allocations while installed (wraps the allocator it replaced).
class CountingAllocator : public c10::Allocator {
 public:
  CountingAllocator() : base_(c10::GetCPUAllocator()) { c10::SetCPUAllocator(this); }
  ~CountingAllocator() override { c10::SetCPUAllocator(base_); }
  c10::DataPtr allocate(size_t n) const override {
    count_++;
    return base_->allocate(n);
  }
  // Pure virtual in newer LibTorch; an unused extra member in 1.13.
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }
  int64_t count() const { return count_; }

 private:
  c10::Allocator* base_;
  mutable std::atomic<int64_t> count_{0};
};

}  // namespace

TEST(MLPFused, MatchesAutogradForEveryActivationAndBackend) {
  for (bool onednn : {true, false}) {
    const bool previous = mlp_gemm_use_onednn(onednn);
    for (const char* act : kActivations) {
      auto model = mlp(act);
      // Large |z| too, so every activation's branches (softplus above 20) are hit.
      at::Tensor z = at::randn({100, 2}) * 30;
      ASSERT_TRUE(model->uses_fast_path(z));
      LogDensityValue fused = model->value_and_grad(z);
      LogDensityValue ref = autograd(*model, z);
      const std::string what = std::string(act) + " on " + mlp_gemm_backend();
      expect_close(fused.f, ref.f, what + ": f");
      expect_close(fused.grad, ref.grad, what + ": grad");
    }
    mlp_gemm_use_onednn(previous);
  }
}

TEST(MLPFused, UsedOnlyWhereItApplies) {
  auto model = mlp("leaky_relu");
  EXPECT_TRUE(model->uses_fast_path(at::randn({7, 2})));
  EXPECT_FALSE(model->uses_fast_path(at::randn({7, 2}, at::kDouble)));
  EXPECT_FALSE(model->uses_fast_path(at::randn({2, 7}).t()));  // not contiguous
  EXPECT_FALSE(model->uses_fast_path(at::randn({0, 2})));
  EXPECT_FALSE(mlp("leaky_relu", /*fast_path=*/false)->uses_fast_path(at::randn({7, 2})));
  EXPECT_EQ(mlp("tanh", false)->to_json()["fast_path"], false);
  model->to(at::kDouble);
  EXPECT_FALSE(model->uses_fast_path(at::randn({7, 2}, at::kDouble)));
}

TEST(MLPFused, NoAllocationsInSteadyState) {
  auto model = mlp("leaky_relu");
  ModelLogDensity logp(model);
  const at::Tensor z = at::randn({100, 2});
  for (int i = 0; i < 3; ++i) logp(z);  // warm-up: buffers and the output pool
  int64_t during = 0;
  {
    CountingAllocator counting;
    for (int i = 0; i < 50; ++i) {
      LogDensityValue v = logp(z);  // the sampler keeps one result at a time
    }
    during = counting.count();
  }
  EXPECT_EQ(during, 0);
  // The unfused path allocates every intermediate (this shows the counter counts).
  auto unfused = mlp("leaky_relu", false);
  unfused->value_and_grad(z);
  CountingAllocator counting;
  unfused->value_and_grad(z);
  EXPECT_GT(counting.count(), 10);
}

TEST(MLPFused, HeldResultsAreNeverOverwritten) {
  auto model = mlp("silu");
  const at::Tensor z1 = at::randn({50, 2}), z2 = at::randn({50, 2});
  LogDensityValue v1 = model->value_and_grad(z1);
  const at::Tensor f1 = v1.f.clone(), g1 = v1.grad.clone();
  at::Tensor view = v1.grad.view({-1});  // a view alone also keeps the buffer
  v1 = LogDensityValue{v1.f, at::Tensor()};
  std::vector<LogDensityValue> held;
  for (int i = 0; i < 6; ++i) held.push_back(model->value_and_grad(z2));  // beyond the pool
  EXPECT_TRUE(at::equal(v1.f, f1));
  EXPECT_TRUE(at::equal(view.view({50, 2}), g1));
  for (const auto& h : held) EXPECT_NE(h.grad.data_ptr(), view.data_ptr());
  // Released buffers are reused: the same storage comes back.
  void* p = held.front().grad.data_ptr();  // a pooled one (the last ones are beyond the pool)
  held.clear();
  view = at::Tensor();
  bool reused = false;
  for (int i = 0; i < 4; ++i) reused |= model->value_and_grad(z2).grad.data_ptr() == p;
  EXPECT_TRUE(reused);
}

TEST(MLPFused, FollowsInPlaceWeightUpdatesAndRecoversFromNaN) {
  auto model = mlp("leaky_relu");
  const at::Tensor z = at::randn({100, 2}) * 2;
  model->value_and_grad(z);
  {
    at::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.add_(at::randn_like(p), 0.1);  // as an optimizer step
  }
  at::Tensor bad = z.clone();
  bad[3][1] = NAN;
  LogDensityValue broken = model->value_and_grad(bad);
  EXPECT_TRUE(std::isnan(broken.f[3].item<float>()));
  EXPECT_TRUE(at::isfinite(broken.f.slice(0, 4)).all().item<bool>());
  LogDensityValue fused = model->value_and_grad(z);
  LogDensityValue ref = autograd(*model, z);
  expect_close(fused.f, ref.f, "f after an update");
  expect_close(fused.grad, ref.grad, "grad after an update and a NaN batch");
  // A new batch size gets new buffers.
  const at::Tensor small = z.slice(0, 0, 17).contiguous();
  expect_close(model->value_and_grad(small).grad, autograd(*model, small).grad, "B = 17");
}

TEST(MLPFused, TrainingGradientsUnchanged) {
  // The loss's parameter gradient after sampling with and without the fused pass.
  std::vector<std::vector<at::Tensor>> grads;
  for (bool fast : {true, false}) {
    auto model = mlp("leaky_relu", fast);
    at::Tensor z = at::randn({100, 2}, at::TensorOptions().dtype(at::kFloat)) * 2;
    for (int k = 0; k < 5; ++k) z = z + 0.01 * model->value_and_grad(z).grad;
    at::Tensor x = at::randn({100, 2});
    at::Tensor loss = -(model->energy(x).mean() - model->energy(z).mean());
    loss.backward();
    std::vector<at::Tensor> g;
    for (const auto& p : model->parameters()) g.push_back(p.grad().clone());
    grads.push_back(g);
  }
  for (size_t i = 0; i < grads[0].size(); ++i) {
    expect_close(grads[0][i], grads[1][i], "parameter " + std::to_string(i));
  }
}
