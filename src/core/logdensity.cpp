// logdensity.cpp — FunctionLogDensity: gradients of a user callable by autograd.
#include "anila/logdensity.h"

#include <ATen/ATen.h>
#include <torch/autograd.h>

namespace anila {

FunctionLogDensity::FunctionLogDensity(std::function<at::Tensor(const at::Tensor&)> fn)
    : fn_(std::move(fn)) {}

LogDensityValue FunctionLogDensity::operator()(const at::Tensor& z) const {
  at::AutoGradMode enable(true);
  at::Tensor zr = z.detach().requires_grad_(true);
  at::Tensor f = fn_(zr);
  TORCH_CHECK(f.dim() == 1 && f.size(0) == z.size(0), "log-density must return [B], got ",
              f.sizes());
  at::Tensor grad = torch::autograd::grad({f.sum()}, {zr})[0];
  return {f.detach(), grad.detach()};
}

at::Tensor FunctionLogDensity::value(const at::Tensor& z) const {
  at::NoGradGuard no_grad;
  return fn_(z).detach();
}

}  // namespace anila
