// memory_check.cpp — lower bounds on a run's memory (see memory_check.h).
#include "train/memory_check.h"

#include <string>

#include "anila/config.h"

namespace anila {

namespace {

// Tensors of [count, D] float32 held at once per use: the batch holds data,
// chain states, gradients and noise (4); an evaluation states, gradients and
// noise (3); a bank just its states (1, at its storage width).
void check_count(const std::string& key, int64_t count, double d, double copies,
                 double bytes_per_value = 4) {
  check_memory(
      key + " = " + std::to_string(count) + " (" + std::to_string(int64_t(d)) + " values each)",
      double(count) * d * copies * bytes_per_value);
}

}  // namespace

void check_run_memory(const RunConfig& s) {
  const ChainOptions& chains = s.chains;
  double d = 1;
  for (int64_t v : s.sample_shape) d *= double(v);
  check_count("train.batch_size", s.train.batch_size, d, 4);
  if (chains.type == "persistent" || chains.type == "replay") {
    const double width = chains.storage == "uint8" ? 1 : chains.storage == "float16" ? 2 : 4;
    check_count("chains.bank_size", chains.bank_size, d, 1, width);
  }
  if (s.image_data) {
    check_count("eval.fd_samples", s.eval.fd_samples, d, 3);
  } else {
    check_count("eval.samples", s.eval.samples, d, 3);
    check_count("eval.chains", s.eval.chains, d, 3);
    check_count("eval.n_data", s.eval.n_data, d, 1);
    check_count("eval.n_mmd", s.eval.n_mmd, d, 1);
  }
}

}  // namespace anila
