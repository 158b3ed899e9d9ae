// logdensity.cpp — FunctionLogDensity: gradients of a user callable by autograd.
#include "anila/logdensity.h"

#include "anila/common.h"

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

at::Tensor FunctionLogDensity::grad_with_graph(const at::Tensor& z) const {
  at::AutoGradMode enable(true);
  return torch::autograd::grad({fn_(z).sum()}, {z}, {}, /*retain_graph=*/true,
                               /*create_graph=*/true)[0];
}

at::Tensor LogDensity::grad_with_graph(const at::Tensor& z) const {
  at::AutoGradMode enable(true);
  at::Tensor grad = (*this)(z).grad;
  if (!grad.requires_grad()) {
    throw UserError(
        "this log-density has no second-derivative path (its gradient is not "
        "differentiable by autograd); samplers that need Hessian-vector products "
        "(anila-ito) cannot use it");
  }
  return grad;
}

std::vector<at::Tensor> hessian_vector_products(const LogDensity& logp, const at::Tensor& z,
                                                const std::vector<at::Tensor>& vs) {
  at::AutoGradMode enable(true);
  at::Tensor zr = z.detach().requires_grad_(true);
  at::Tensor grad = logp.grad_with_graph(zr);
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < vs.size(); ++k) {
    const bool last = k + 1 == vs.size();
    at::Tensor hv = torch::autograd::grad({grad}, {zr}, {vs[k].to(grad.scalar_type())},
                                          /*retain_graph=*/!last, /*create_graph=*/false,
                                          /*allow_unused=*/true)[0];
    out.push_back(hv.defined() ? hv.detach() : at::zeros_like(z));
  }
  return out;
}

}  // namespace anila
