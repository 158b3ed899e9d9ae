// memory_check.h — the memory a run's sizes imply, checked before a run starts.
//
// Notation: D values per sample (2, or C·H·W), B = train.batch_size,
// N = chains.bank_size, E = eval.samples / eval.chains / eval.fd_samples.
// Each check is a lower bound (float32 tensors the run must hold at once),
// so a size that fails it cannot run on this machine whatever else happens.
#pragma once

#include <vector>

#include "anila/chains/chain_source.h"
#include "anila/train/setup.h"

namespace anila {

// UserError naming the key ("train.batch_size = 1000000000000 needs at least
// 32.0 TB of memory; ...") when one of B, N, E cannot fit in physical memory.
void check_run_memory(const RunConfig& c);

}  // namespace anila
