// logdensity.h — the log-density interface every sampler draws from.
//
// A log-density maps chain states z: [B, ...] to f: [B] (log unnormalised
// density, higher = more likely) and its input gradient ∇_z f: [B, ...].
// An energy network, an analytic target or any user callable can be one.
// Evaluating it never builds parameter gradients: θ is frozen while sampling.
//
//   anila::FunctionLogDensity gauss([](const at::Tensor& z) { return -0.5 * z.pow(2).sum(1); });
//   auto [f, grad] = gauss(z);   // f: [B], grad: [B, D] (= -z)
#pragma once

#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

namespace anila {

struct LogDensityValue {
  at::Tensor f;     // [B]
  at::Tensor grad;  // [B, ...], same shape as z
};

class LogDensity {
 public:
  virtual ~LogDensity() = default;
  // z: [B, ...] -> f: [B] and ∇_z f: [B, ...]. Must not keep an autograd graph.
  virtual LogDensityValue operator()(const at::Tensor& z) const = 0;
  // z: [B, ...] -> f: [B] only (default: the value part of operator()).
  virtual at::Tensor value(const at::Tensor& z) const { return (*this)(z).f; }
  // Second derivatives, for samplers that need them (anila-ito): ∇_z f at z as a
  // differentiable function of z, i.e. a tensor whose autograd graph reaches z
  // (z must require grad; parameters stay frozen). Default: operator() under
  // autograd, which works when f and ∇f are built from differentiable tensor
  // ops; UserError when the result is not connected to z.
  virtual at::Tensor grad_with_graph(const at::Tensor& z) const;
};

// Hessian-vector products per chain: for each v in `vs` (z's shape), H(z)·v
// where H is the Hessian of f in z (block-diagonal over chains). One gradient
// evaluation with a graph (grad_with_graph) plus one backward pass per v.
std::vector<at::Tensor> hessian_vector_products(const LogDensity& logp, const at::Tensor& z,
                                                const std::vector<at::Tensor>& vs);

// A log-density from a differentiable function z [B,...] -> f [B]; the gradient
// is taken with autograd (so `fn` must be built from differentiable tensor ops).
class FunctionLogDensity : public LogDensity {
 public:
  explicit FunctionLogDensity(std::function<at::Tensor(const at::Tensor&)> fn);
  LogDensityValue operator()(const at::Tensor& z) const override;
  at::Tensor value(const at::Tensor& z) const override;
  at::Tensor grad_with_graph(const at::Tensor& z) const override;

 private:
  std::function<at::Tensor(const at::Tensor&)> fn_;
};

}  // namespace anila
