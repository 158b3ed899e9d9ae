// distributed.h — data-parallel training over LibTorch's c10d: a TCPStore for the
// rendezvous, ProcessGroupGloo on CPU, ProcessGroupNCCL on CUDA (docs/distributed.md).
//
// Notation: N ranks (world size), r this rank, M the global batch (train.batch_size),
// m = M / N the per-rank batch, B the bank size (chains.bank_size), b = B / N.
//
//   every iteration, on every rank r:
//       x ← the global data batch [M, ...] from the shared data generator (same
//           seed on every rank), rows [r·m, (r+1)·m)
//       z ← m chains from the rank-local chain source (bank of b), K sampler steps
//           with the rank's own generator (derived from the seed and r)
//       loss_r backward → one allreduce of all gradients flattened into one buffer
//           (plus the loss, the energies and a per-rank NaN flag), divided by N
//       optimizer step: identical on every rank, so the parameters stay identical
//
// Rank 0 writes the run folder; a checkpoint gathers every rank's bank (in rank
// order: the global bank of B rows) and every rank's generator state.
//
// Launch: `anila train --nproc N` (launch_local below) or the torchrun environment
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
//
//   auto comm = dist::Communicator::connect(dist::options_from_env(), device);
//   comm->allreduce_mean(flat_gradients, "iteration 7");
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "anila/common.h"

namespace anila::dist {

// ---- errors ----
// A rank stopped answering (killed, crashed, exited) or the collective failed:
// one line naming the rank(s); the CLI exits with kExitRankLost.
class RankLostError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// This rank stops because another rank reported the cause (a user error while
// starting, a divergence): exit with `code`; that rank printed the message.
class PeerStopped : public std::runtime_error {
 public:
  PeerStopped(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};
constexpr int kExitRankLost = 1;

// ---- options ----
struct DistOptions {
  int64_t rank = 0, world_size = 1;              // RANK, WORLD_SIZE
  int64_t local_rank = 0, local_world_size = 1;  // LOCAL_RANK, LOCAL_WORLD_SIZE
  std::string master_addr = "127.0.0.1";         // MASTER_ADDR (store host)
  int64_t master_port = 29500;                   // MASTER_PORT
  // The store is hosted by the launcher, not by rank 0 (TORCHELASTIC_USE_AGENT_STORE).
  bool external_store = false;
  std::string backend = "auto";  // auto (nccl on CUDA, gloo on CPU) | gloo | nccl
  double rdzv_timeout_s = 120;   // reaching the store and every rank joining
  double timeout_s = 1800;       // any one collective (must exceed rank 0's evaluations)
  bool launched = false;         // started by launch_local (ANILA_LAUNCHER=1)
};
// The torchrun environment; UserError naming the variable when one is malformed.
// World size 1 (or no WORLD_SIZE) means a single-process run.
DistOptions options_from_env();
// "auto" resolved for a device: nccl for CUDA, gloo otherwise. UserError for an
// unknown name, nccl on CPU, or nccl in a build without it.
std::string resolve_backend(const std::string& backend, const c10::Device& device);
bool nccl_available();  // this build has ProcessGroupNCCL
// cuda:LOCAL_RANK for a CUDA device (one GPU per local rank), else `device`.
c10::Device rank_device(const c10::Device& device, const DistOptions& options);
// Seed of rank r's chain generator and bank initialisation (splitmix64 of seed, r);
// distinct from `seed`, which drives the shared data generator.
uint64_t rank_seed(uint64_t seed, int64_t rank);
// UserError unless a resolved config splits over `world_size` ranks:
// train.batch_size and (persistent/replay) chains.bank_size divisible by it.
void check_world_size(const Json& resolved, int64_t world_size);

// ---- the process group ----
class Communicator {
 public:
  // Rendezvous over the TCPStore at master_addr:master_port, then the backend's
  // process group. UserError (one line, bounded by rdzv_timeout_s) when the store
  // cannot be reached or bound, or not every rank joins.
  static std::shared_ptr<Communicator> connect(const DistOptions& options,
                                               const c10::Device& device);
  ~Communicator();

  int64_t rank() const;
  int64_t world_size() const;
  const std::string& backend() const;
  const DistOptions& options() const;

  // flat: [P] on any device; replaced in place by the mean over ranks. `what`
  // names the step in error messages ("iteration 12"). RankLostError on failure.
  void allreduce_mean(at::Tensor& flat, const std::string& what);
  // flat: [P]; replaced in place by the sum over ranks.
  void allreduce_sum(at::Tensor& flat, const std::string& what);
  // t: any shape; replaced in place by rank `root`'s value.
  void broadcast(at::Tensor& t, int64_t root, const std::string& what);
  // t: [...] the same shape and dtype on every rank -> [N, ...] in rank order, on t's device.
  at::Tensor allgather(const at::Tensor& t, const std::string& what);

  // Every rank passes its status (0 = fine, else the exit code it is about to
  // stop with). Returns true when all are 0. Otherwise the lowest failing rank gets
  // false (it rethrows its own error, the one line printed) and every other rank,
  // failed or not, throws PeerStopped with that rank's code (an empty message under
  // the --nproc launcher, else one naming that rank).
  bool agree(int status, const std::string& what);

  // Throws RankLostError naming the rank(s) whose heartbeat stopped (checked over
  // about two seconds), or describing `cause` when every rank is alive.
  [[noreturn]] void fail(const std::string& what, const std::string& cause);

  struct Impl;  // c10d objects (distributed.cpp)

 private:
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};
using CommunicatorPtr = std::shared_ptr<Communicator>;

// ---- local launcher (anila train --nproc N) ----
// Hosts the TCPStore on a free loopback port and starts N copies of `argv`
// (argv[0] is replaced by this executable) with RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE set.
// Waits for all; when one fails, the others get `grace_s` to stop on their own,
// then SIGTERM, then SIGKILL. Returns the exit code of the first rank that
// failed (kExitRankLost when it was killed by a signal, with one line naming it),
// 128 + signal when the launcher got SIGINT/SIGTERM (forwarded to the ranks as
// SIGTERM), 0 when all succeed.
int launch_local(int64_t nproc, const std::vector<std::string>& argv, double grace_s = 30);

}  // namespace anila::dist
