// run_loop.cpp — the run loop and its generic observers (see train/run_loop.h).
#include "train/run_loop.h"

#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/config.h"
#include "anila/io/checkpoint_file.h"
#include "anila/io/files.h"
#include "anila/train/distributed.h"

namespace fs = std::filesystem;

namespace anila {

// ---- RunLoop ----

void RunLoop::run(Trainer& trainer) {
  while (trainer.iteration() < iterations_) {
    StepEvent e;
    e.iteration = trainer.iteration() + 1;
    e.log_now = e.iteration % log_every_ == 0 || e.iteration == iterations_ || e.iteration == 1;
    e.eval_now = eval_every_ > 0 && e.iteration % eval_every_ == 0 && e.iteration != iterations_;
    IterationStats stats;
    try {
      stats = trainer.step(e.log_now);
    } catch (const DivergedError& error) {
      if (recovery_ && recovery_->recover(trainer, error, observers_)) continue;
      throw;
    }
    e.stats = &stats;
    for (auto& o : observers_) o->after_step(trainer, e);
  }
}

// ---- Checkpointer ----

void Checkpointer::after_step(Trainer& trainer, StepEvent& e) {
  if (e.iteration % every_ == 0) save(trainer);
}

void Checkpointer::save(Trainer& trainer) {
  trainer.save_checkpoint(path_);
  last_good_ = trainer.iteration();
}

// ---- BestCheckpoint ----

BestCheckpoint::BestCheckpoint(std::string dir, std::string metric_name,
                               std::shared_ptr<dist::Communicator> comm)
    : path_(dir + "/checkpoints/best.pt"),
      record_(dir + "/checkpoints/best.json"),
      name_(std::move(metric_name)),
      comm_(std::move(comm)) {
  std::error_code ec;
  if (!fs::exists(record_, ec) || !fs::exists(path_, ec)) return;
  const Json r = try_parse_json(io::read_text(record_));
  if (r.is_object() && r.value("metric", "") == name_ && r.contains("value") &&
      r["value"].is_number()) {
    iteration_ = r.value("iteration", int64_t(-1));
    best_ = r["value"].get<double>();
  }
}

void BestCheckpoint::after_step(Trainer& trainer, StepEvent& e) {
  if (!e.eval_now) return;
  const bool lead = !comm_ || comm_->rank() == 0;
  bool better = lead && std::isfinite(e.metric) && !(e.metric >= best_);
  if (comm_) {
    // Rank 0 evaluated; every rank takes its decision and joins the checkpoint.
    at::Tensor flag = at::tensor({better ? 1.0f : 0.0f});
    comm_->broadcast(flag, 0, "iteration " + std::to_string(e.iteration) + " (best checkpoint)");
    better = flag.item<float>() > 0.5f;
  }
  if (!better) return;
  trainer.save_checkpoint(path_);
  if (!lead) return;
  iteration_ = e.iteration;
  best_ = e.metric;
  io::write_atomic(record_, summary().dump(2) + "\n");
}

void BestCheckpoint::consider(Trainer& trainer, double metric) {
  if (!std::isfinite(metric) || metric >= best_) return;
  // After the loop last.pt holds this very state: copy it (no collective needed).
  const std::string last = fs::path(path_).parent_path().string() + "/last.pt";
  io::write_checkpoint_file(path_, io::read_checkpoint_file(last).bytes);
  iteration_ = trainer.iteration();
  best_ = metric;
  io::write_atomic(record_, summary().dump(2) + "\n");
}

Json BestCheckpoint::summary() const {
  if (iteration_ < 0) return Json();
  return {{"iteration", iteration_}, {"metric", name_}, {"value", best_}, {"file", path_}};
}

// ---- DivergenceRecovery ----

bool DivergenceRecovery::recover(Trainer& trainer, const DivergedError& error,
                                 const std::vector<std::unique_ptr<RunObserver>>& observers) {
  if (o_.on_divergence != "rollback") return false;
  if (int64_t(rollbacks_.size()) >= o_.max_rollbacks) return false;
  std::error_code ec;
  if (!fs::exists(checkpoints_.path(), ec)) return false;
  const int64_t at = trainer.iteration() + 1;
  trainer.load_checkpoint(checkpoints_.path());
  trainer.scale_lr(o_.lr_factor);
  const int64_t back = trainer.iteration();
  rollbacks_.push_back({{"iteration", at},
                        {"restored_iteration", back},
                        {"lr_scale", trainer.lr_scale()},
                        {"reason", error.what()}});
  if (!quiet_) {
    std::cerr << fmt::format(
        "anila: diverged: {}\nanila: rolled back to the checkpoint of iteration {}; learning "
        "rate scaled by {:g} (now ×{:g}); rollback {} of at most {}\n",
        error.what(), back, o_.lr_factor, trainer.lr_scale(), rollbacks_.size(), o_.max_rollbacks);
  }
  for (const auto& o : observers) o->rolled_back(back);
  return true;
}

}  // namespace anila
