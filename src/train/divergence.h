// divergence.h — the divergence guard of the trainer (TrainOptions::divergence,
// the checks in anila/train/trainer.h): blow-ups that are not NaN/Inf.
//
// One guard per trainer. observe_data() sees every positive batch (before any rank
// takes its rows), chains_out_of_range() this rank's chains, check() the values every
// rank shares (global means, the averaged gradient's norm), so every rank decides
// alike. The running state goes into checkpoints (state()/set_state()).
//
// Each ratio check compares a value with its running mean from one to two windows of
// `warmup` iterations before (see Scale), so a steady exponential growth, which a
// running mean of the latest values would follow, is caught within two windows.
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "anila/train/trainer.h"

namespace anila {

class DivergenceGuard {
 public:
  explicit DivergenceGuard(DivergenceOptions options) : o_(std::move(options)) {}

  // x: a batch of positives [M, ...]; keeps the largest |coordinate| seen.
  void observe_data(const at::Tensor& x);
  // z: chain states [m, ...]; true when max |z| > chain_range · D.
  bool chains_out_of_range(const at::Tensor& z) const;
  // "" when the iteration's values are healthy, else why not (the state is then
  // left as it was); updates the running scales otherwise.
  std::string check(double f_data, double f_samples, double grad_norm);
  // The chain-range limit now (for messages), 0 when off or no data seen.
  double chain_limit() const { return o_.chain_range * data_max_; }

  // [kStateSize] float64 on the CPU (the running scales, D, iterations seen, a version).
  at::Tensor state() const;
  void set_state(const at::Tensor& state);

 private:
  // For each checked quantity (energy, gap, gradient norm): its running mean now,
  // and that mean as it was at the last two multiples of `warmup` iterations; the
  // checks compare with the older one, so a quantity that grows steadily (an
  // exponential blow-up) is measured against where it was 1–2 windows before.
  struct Scale {
    double now = 0, recent = 0, old = 0;
  };
  DivergenceOptions o_;
  Scale f_, gap_, grad_;
  double data_max_ = 0;
  int64_t seen_ = 0;
};
}  // namespace anila
