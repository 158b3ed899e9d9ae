// per_chain.h (private) — reductions over all but the batch axis of chain states.
#pragma once

#include <ATen/ATen.h>

namespace anila {

// Σ over all but the batch axis: [B, ...] -> [B].
inline at::Tensor sum_per_chain(const at::Tensor& x) {
  return x.reshape({x.size(0), -1}).sum(1);
}

}  // namespace anila
