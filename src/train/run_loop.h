// run_loop.h — the training loop of a run folder and the observers it calls
// (private to src/train; run_experiment in experiment.cpp assembles them).
//
//   for each iteration t (until train.iterations):
//       stats ← trainer.step(logged iteration?)        DivergedError → recovery
//       for each observer, in the order added: after_step(trainer, event)
//
// An event carries the iteration's stats, whether it is logged / evaluated, the
// metrics row the observers fill in (metric columns, then written by the
// metrics writer) and the evaluation metric (lower is better) when there is one.
// Observers: metrics row, evaluation (2D / images), best checkpoint, metrics
// writer, last checkpoint, progress — each a small class. Ranks other than 0
// run the same loop with the checkpoint and best-checkpoint observers only, so
// the collectives stay in the same order on every rank.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "anila/common.h"
#include "anila/train/trainer.h"

namespace anila {

namespace dist {
class Communicator;
}

struct StepEvent {
  int64_t iteration = 0;  // 1-based, just done
  const IterationStats* stats = nullptr;
  bool log_now = false;   // a metrics row is written
  bool eval_now = false;  // an evaluation runs (not at the last iteration: the final one does)
  Json row;               // the metrics row (null unless log_now or eval_now)
  double metric = NAN;    // the evaluation's metric (lower is better), NaN when none
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void after_step(Trainer& trainer, StepEvent& event) = 0;
  // After a rollback to `iteration` (DivergenceRecovery): forget what came later.
  virtual void rolled_back(int64_t /*iteration*/) {}
};

// Writes RUN/checkpoints/last.pt every train.checkpoint_every iterations and
// remembers the last good one (the iteration a divergence goes back to).
class Checkpointer : public RunObserver {
 public:
  Checkpointer(std::string path, int64_t every, int64_t last_good)
      : path_(std::move(path)), every_(every), last_good_(last_good) {}
  void after_step(Trainer& trainer, StepEvent& e) override;
  void save(Trainer& trainer);
  const std::string& path() const { return path_; }
  int64_t last_good() const { return last_good_; }

 private:
  std::string path_;
  int64_t every_;
  int64_t last_good_;
};

// Keeps RUN/checkpoints/best.pt: the checkpoint of the evaluation with the lowest
// metric so far. With ranks, rank 0 (which evaluates) broadcasts the decision and
// every rank joins the checkpoint's collectives. The state (best iteration and
// metric) is read back from best.json beside it on resume.
class BestCheckpoint : public RunObserver {
 public:
  BestCheckpoint(std::string dir, std::string metric_name,
                 std::shared_ptr<dist::Communicator> comm);
  void after_step(Trainer& trainer, StepEvent& e) override;
  // The final evaluation (after the loop): the same rule.
  void consider(Trainer& trainer, double metric);
  // {"iteration", "metric", name: value, "file"} or null when none was kept.
  Json summary() const;

 private:
  std::string path_, record_, name_;
  std::shared_ptr<dist::Communicator> comm_;
  int64_t iteration_ = -1;
  double best_ = NAN;
};

// What a divergence does (train.on_divergence): "stop" rethrows; "rollback" loads
// the last good checkpoint, scales the learning rate by lr_factor, tells the
// observers and goes on, at most max_rollbacks times.
class DivergenceRecovery {
 public:
  DivergenceRecovery(const DivergenceOptions& options, const Checkpointer& checkpoints, bool quiet)
      : o_(options), checkpoints_(checkpoints), quiet_(quiet) {}
  // True when training goes on (the trainer is back at the last good checkpoint).
  bool recover(Trainer& trainer, const DivergedError& error,
               const std::vector<std::unique_ptr<RunObserver>>& observers);
  // [{"iteration", "restored_iteration", "lr_scale", "reason"}], one per rollback.
  const Json& rollbacks() const { return rollbacks_; }

 private:
  DivergenceOptions o_;
  const Checkpointer& checkpoints_;
  bool quiet_;
  Json rollbacks_ = Json::array();
};

class RunLoop {
 public:
  RunLoop(int64_t iterations, int64_t log_every, int64_t eval_every)
      : iterations_(iterations), log_every_(log_every), eval_every_(eval_every) {}
  void add(std::unique_ptr<RunObserver> observer) { observers_.push_back(std::move(observer)); }
  void set_recovery(DivergenceRecovery* recovery) { recovery_ = recovery; }
  // Steps the trainer to `iterations`. Throws what the trainer or an observer throws
  // (DivergedError when there is no recovery left).
  void run(Trainer& trainer);

 private:
  int64_t iterations_, log_every_, eval_every_;
  std::vector<std::unique_ptr<RunObserver>> observers_;
  DivergenceRecovery* recovery_ = nullptr;
};

}  // namespace anila
