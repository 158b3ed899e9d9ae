// trainer.cpp — Algorithm 1, optimisers, lr schedules, checkpoints.
#include "anila/train/trainer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include "anila/config.h"
#include "anila/io/checkpoint_file.h"
#include "anila/samplers/adapt.h"
#include "anila/samplers/anila.h"
#include "anila/train/distributed.h"
#include "train/cuda_graph.h"
#include "train/divergence.h"

namespace anila {

namespace {
constexpr double kPi = 3.14159265358979323846;

// The seed of the replayed graph's noise at 0-based iteration t: a fixed mix of
// the run's seed and t (a checkpoint restores t, so a resumed run replays alike).
uint64_t graph_seed(uint64_t run_seed, int64_t t) {
  uint64_t x = run_seed + 0x9E3779B97F4A7C15ull * uint64_t(t + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// The model with ∇_z f clipped coordinatewise to ±clip (TrainOptions::drift_clip).
class ClippedLogDensity : public LogDensity {
 public:
  ClippedLogDensity(EnergyModelPtr model, double clip) : f_(std::move(model)), clip_(clip) {}
  LogDensityValue operator()(const at::Tensor& z) const override {
    LogDensityValue v = f_(z);
    v.grad = v.grad.clamp(-clip_, clip_);
    return v;
  }
  at::Tensor value(const at::Tensor& z) const override { return f_.value(z); }

 private:
  ModelLogDensity f_;
  double clip_;
};

DivergenceOptions parse_divergence(ConfigReader& train) {
  DivergenceOptions d;
  d.on_divergence = train.choice("on_divergence", d.on_divergence, {"stop", "rollback"});
  ConfigReader r(train.object("divergence"), train.key_path("divergence"));
  d.energy_factor = r.number("energy_factor", d.energy_factor, Range::non_negative());
  d.gap_factor = r.number("gap_factor", d.gap_factor, Range::non_negative());
  d.grad_factor = r.number("grad_factor", d.grad_factor, Range::non_negative());
  d.floor = r.number("floor", d.floor, Range::non_negative());
  d.chain_range = r.number("chain_range", d.chain_range, Range::non_negative());
  d.rate = r.number("rate", d.rate, {0.0, 1.0, true, false});
  d.warmup = r.integer("warmup", d.warmup, Range::non_negative());
  d.lr_factor = r.number("lr_factor", d.lr_factor, {0.0, 1.0, true, false});
  d.max_rollbacks = r.integer("max_rollbacks", d.max_rollbacks, Range::non_negative());
  r.finish();
  return d;
}

AugmentOptions parse_augment(ConfigReader& train) {
  AugmentOptions a;
  ConfigReader r(train.object("augment"), train.key_path("augment"));
  a.flip = r.boolean("flip", a.flip);
  a.translate = r.integer("translate", a.translate, {0, 16});
  r.finish();
  return a;
}
}  // namespace

Json DivergenceOptions::to_json() const {
  return {{"energy_factor", energy_factor},
          {"gap_factor", gap_factor},
          {"grad_factor", grad_factor},
          {"floor", floor},
          {"chain_range", chain_range},
          {"rate", rate},
          {"warmup", warmup},
          {"lr_factor", lr_factor},
          {"max_rollbacks", max_rollbacks}};
}

Json AugmentOptions::to_json() const {
  return {{"flip", flip}, {"translate", translate}};
}

at::Tensor augment_images(const at::Tensor& x, const AugmentOptions& o, at::Generator& gen) {
  TORCH_CHECK(x.dim() == 4, "augment_images: expected [M, C, H, W], got ", x.sizes());
  const int64_t M = x.size(0), H = x.size(2), W = x.size(3), t = o.translate;
  const auto cpu_long = at::TensorOptions().dtype(at::kLong);
  at::Tensor out = x;
  if (o.flip) {
    const at::Tensor flip = at::empty({M}, x.options().dtype(at::kFloat)).bernoulli_(0.5, gen);
    out = at::where(flip.gt(0.5).view({M, 1, 1, 1}), out.flip({3}), out);
  }
  if (t > 0) {
    const at::Tensor padded = at::replication_pad2d(out, {t, t, t, t});
    // Offsets in 0..2t of each sample's crop (drawn on the generator's device).
    const at::Tensor off =
        at::randint(0, 2 * t + 1, {M, 2}, gen, cpu_long.device(gen.device())).to(at::kCPU);
    const auto a = off.accessor<int64_t, 2>();
    std::vector<at::Tensor> crops;
    crops.reserve(size_t(M));
    for (int64_t i = 0; i < M; ++i)
      crops.push_back(padded[i].narrow(1, a[i][0], H).narrow(2, a[i][1], W));
    out = at::stack(crops);
  }
  return out.contiguous();
}

double LrSchedule::at(int64_t t, int64_t total, double base) const {
  if (warmup > 0 && t < warmup) return base * static_cast<double>(t + 1) / warmup;
  const double span = std::max<int64_t>(1, total - warmup);
  const double progress = std::min(1.0, static_cast<double>(t - warmup) / span);
  if (type == "cosine") return min_lr + (base - min_lr) * 0.5 * (1 + std::cos(kPi * progress));
  if (type == "linear") return base + (min_lr - base) * progress;
  if (type == "step") return base * std::pow(gamma, static_cast<double>(t / step_every));
  return base;
}

Json LrSchedule::to_json() const {
  Json j = {{"type", type}, {"warmup", warmup}};
  if (type == "cosine" || type == "linear") j["min_lr"] = min_lr;
  if (type == "step") {
    j["step_every"] = step_every;
    j["gamma"] = gamma;
  }
  return j;
}

Json TrainOptions::to_json() const {
  Json opt = {{"type", optimizer}, {"lr", lr}, {"weight_decay", weight_decay}};
  if (optimizer == "adam") opt["betas"] = {beta1, beta2};
  if (optimizer == "sgd") opt["momentum"] = momentum;
  return {{"iterations", iterations},
          {"batch_size", batch_size},
          {"mcmc_steps", mcmc_steps},
          {"optimizer", opt},
          {"grad_clip", grad_clip},
          {"energy_l2", energy_l2},
          {"lr_schedule", schedule.to_json()},
          {"log_every", log_every},
          {"checkpoint_every", checkpoint_every},
          {"cuda_graph", cuda_graph},
          {"ema", ema},
          {"ema_warmup", ema_warmup},
          {"ema_weights", ema_weights},
          {"drift_clip", drift_clip},
          {"augment", augment.to_json()},
          {"on_divergence", divergence.on_divergence},
          {"divergence", divergence.to_json()}};
}

TrainOptions parse_train_options(const Json& section, const std::string& path) {
  ConfigReader r(section, path);
  TrainOptions o;
  o.iterations = r.integer("iterations", o.iterations, Range::at_least(1));
  o.batch_size = r.integer("batch_size", o.batch_size, Range::at_least(1));
  o.mcmc_steps = r.integer("mcmc_steps", o.mcmc_steps, Range::at_least(1));
  o.grad_clip = r.number("grad_clip", o.grad_clip, Range::non_negative());
  o.energy_l2 = r.number("energy_l2", o.energy_l2, Range::non_negative());
  o.log_every = r.integer("log_every", o.log_every, Range::at_least(1));
  o.checkpoint_every = r.integer("checkpoint_every", o.checkpoint_every, Range::at_least(1));
  o.cuda_graph = r.choice("cuda_graph", o.cuda_graph, {"auto", "on", "off"});
  o.ema = r.number("ema", o.ema, {0.0, 1.0, false, true});
  o.ema_warmup = r.boolean("ema_warmup", o.ema_warmup);
  o.ema_weights = r.boolean("ema_weights", o.ema_weights);
  o.drift_clip = r.number("drift_clip", o.drift_clip, Range::non_negative());
  o.augment = parse_augment(r);
  o.divergence = parse_divergence(r);

  ConfigReader opt(r.object("optimizer"), r.key_path("optimizer"));
  o.optimizer = opt.choice("type", o.optimizer, {"adam", "sgd"});
  o.lr = opt.number("lr", o.lr, Range::positive());
  o.weight_decay = opt.number("weight_decay", o.weight_decay, Range::non_negative());
  opt.allow({"betas"});
  if (section.is_object() && section.contains("optimizer") && section["optimizer"].is_object() &&
      section["optimizer"].contains("betas")) {
    // betas: [beta1, beta2], each in [0, 1).
    const Json& raw = section["optimizer"]["betas"];
    bool ok = raw.is_array() && raw.size() == 2 && raw[0].is_number() && raw[1].is_number() &&
              raw[0].get<double>() >= 0 && raw[0].get<double>() < 1 && raw[1].get<double>() >= 0 &&
              raw[1].get<double>() < 1;
    if (!ok) {
      throw UserError(opt.key_path("betas") +
                      ": expected [beta1, beta2] with each in [0, 1), got " + describe_json(raw));
    }
    o.beta1 = raw[0].get<double>();
    o.beta2 = raw[1].get<double>();
  }
  o.momentum = opt.number("momentum", o.momentum, {0.0, 1.0, false, true});
  opt.finish();

  ConfigReader sched(r.object("lr_schedule"), r.key_path("lr_schedule"));
  o.schedule.type = sched.choice("type", o.schedule.type, {"constant", "cosine", "step", "linear"});
  o.schedule.warmup = sched.integer("warmup", o.schedule.warmup, Range::non_negative());
  o.schedule.min_lr = sched.number("min_lr", o.schedule.min_lr, Range::non_negative());
  o.schedule.step_every = sched.integer("step_every", o.schedule.step_every, Range::at_least(1));
  o.schedule.gamma = sched.number("gamma", o.schedule.gamma, Range::positive());
  sched.finish();
  if ((o.schedule.type == "cosine" || o.schedule.type == "linear") && o.schedule.min_lr > o.lr) {
    throw UserError(sched.key_path("min_lr") + ": must be <= " + opt.key_path("lr") + " (" +
                    c10::str(o.lr) + ") for a decaying " + o.schedule.type + " schedule, got " +
                    c10::str(o.schedule.min_lr));
  }
  r.finish();
  return o;
}

Trainer::Trainer(EnergyModelPtr model, SamplerPtr sampler, ChainSourcePtr chains, DataFn data,
                 TrainOptions options, at::Generator gen, c10::Device device)
    : model_(std::move(model)),
      sampler_(std::move(sampler)),
      chains_(std::move(chains)),
      data_(std::move(data)),
      options_(std::move(options)),
      gen_(std::move(gen)),
      device_(device) {
  model_->to(device_);
  if (options_.optimizer == "adam") {
    optimizer_ = std::make_unique<torch::optim::Adam>(
        model_->parameters(), torch::optim::AdamOptions(options_.lr)
                                  .betas(std::make_tuple(options_.beta1, options_.beta2))
                                  .weight_decay(options_.weight_decay));
  } else {
    optimizer_ = std::make_unique<torch::optim::SGD>(model_->parameters(),
                                                     torch::optim::SGDOptions(options_.lr)
                                                         .momentum(options_.momentum)
                                                         .weight_decay(options_.weight_decay));
  }
  notice_ = [](const std::string& line) { std::fprintf(stderr, "anila: %s\n", line.c_str()); };
  guard_ = std::make_unique<DivergenceGuard>(options_.divergence);
  if (options_.ema > 0) {
    at::NoGradGuard no_grad;
    for (const auto& p : model_->parameters()) ema_.push_back(p.detach().clone());
  }
  if (const double q = threshold_auto_quantile(sampler_->options()); q > 0) {
    threshold_ = std::make_unique<ThresholdAdaptation>(q, kTrainThresholdRate);
  }
  if (options_.cuda_graph == "off") {
    graph_status_ = "off";
  } else if (threshold_) {
    graph_status_ = "eager (the sampler's threshold is \"auto\": b changes every iteration)";
  } else if (!device_.is_cuda()) {
    graph_status_ = "eager (" + device_.str() + " device)";
  } else if (!SamplerGraph::compiled()) {
    graph_status_ = "eager (this build of anila has no CUDA graphs)";
  } else {
    graph_status_ = "pending";
  }
}

Trainer::~Trainer() = default;

void Trainer::set_notice_handler(std::function<void(const std::string&)> handler) {
  notice_ = std::move(handler);
}

// z0: the chains to capture for, or undefined when this call must not capture
// (an iteration that collects sampler stats).
void Trainer::prepare_graph(const at::Tensor& z0) {
  // Capture at the second iteration (the first one ran every kernel eagerly), on
  // an iteration that collects no sampler stats.
  if (graph_status_ == "pending" && iteration_ >= 1 && z0.defined()) {
    try {
      const auto logp = chain_log_density();
      graph_ = std::make_unique<SamplerGraph>(*sampler_, *logp, z0, options_.mcmc_steps,
                                              graph_seed(gen_.current_seed(), iteration_));
      graph_status_ = "captured";
    } catch (const std::exception& e) {
      graph_.reset();
      graph_status_ = "eager (capture failed: " + first_line(e.what()) + ")";
    }
  }
  // One line when the loop runs eagerly although graphs were asked for (on) or
  // expected (auto on a CUDA device).
  const bool eager = graph_status_.rfind("eager", 0) == 0;
  if (eager && !graph_noticed_ && (options_.cuda_graph == "on" || device_.is_cuda())) {
    graph_noticed_ = true;
    if (notice_) {
      notice_("train.cuda_graph=" + options_.cuda_graph + ": the K-step sampler loop runs " +
              graph_status_ + "; CUDA graphs need a CUDA device and a CUDA build of LibTorch");
    }
  }
}

ChainState Trainer::run_chains(const at::Tensor& z0, SamplerStats* stats) {
  prepare_graph(stats ? at::Tensor() : z0);
  if (graph_ && !stats && graph_->shape() == z0.sizes().vec()) {
    return graph_->replay(z0, graph_seed(gen_.current_seed(), iteration_));
  }
  const auto logp = chain_log_density();
  ChainState state = ChainState::start(z0, *logp);
  if (threshold_ && threshold_->steps() == 0) adapt_threshold(state.grad);
  sampler_->run(state, *logp, options_.mcmc_steps, gen_, stats);
  return state;
}

void Trainer::adapt_threshold(const at::Tensor& grad) {
  sampler_->set_threshold(threshold_->update(grad, sampler_->options().norm));
}

std::unique_ptr<LogDensity> Trainer::chain_log_density() const {
  if (options_.drift_clip > 0)
    return std::make_unique<ClippedLogDensity>(model_, options_.drift_clip);
  return std::make_unique<ModelLogDensity>(model_);
}

void Trainer::swap_ema() {
  at::NoGradGuard no_grad;
  const auto params = model_->parameters();
  for (size_t i = 0; i < ema_.size(); ++i) {
    at::Tensor raw = params[i].detach().clone();
    params[i].detach().copy_(ema_[i]);
    ema_[i].copy_(raw);
  }
}

void Trainer::update_ema() {
  at::NoGradGuard no_grad;
  const auto params = model_->parameters();
  double d = options_.ema;
  if (options_.ema_warmup)
    d = std::min(d, (1.0 + double(iteration_)) / (10.0 + double(iteration_)));
  for (size_t i = 0; i < ema_.size(); ++i) ema_[i].mul_(d).add_(params[i].detach(), 1.0 - d);
}

double Trainer::parameter_grad_norm() {
  if (options_.grad_clip > 0) {
    return torch::nn::utils::clip_grad_norm_(model_->parameters(), options_.grad_clip);
  }
  at::Tensor sq = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device_));
  for (const auto& p : model_->parameters()) {
    if (p.grad().defined()) sq = sq + p.grad().to(at::kDouble).pow(2).sum();
  }
  return std::sqrt(sq.item<double>());
}

IterationStats Trainer::step(bool collect_sampler_stats) {
  const int64_t M = options_.batch_size / (comm_ ? comm_->world_size() : 1);  // this rank's
  IterationStats out;
  out.iteration = iteration_ + 1;
  if (comm_ && !replicas_checked_) {
    check_replicas("before iteration " + std::to_string(out.iteration));
    replicas_checked_ = true;
  }

  // Positives, with optional data noise.
  at::Tensor x = positives(M);

  // Negatives: K sampler steps from the chain source, θ frozen.
  at::Tensor z0 = chains_->draw(M, x, gen_);
  SamplerStats stats;
  ChainState state = run_chains(z0, collect_sampler_stats ? &stats : nullptr);
  if (out.iteration == fault_nan_iteration_) state.z.fill_(NAN);  // test hook, see set_distributed
  // 0 fine, 1 NaN/Inf, 2 out of the data's range (the flag the ranks share).
  int chains_broke =
      !state.f.isfinite().all().item<bool>() || !state.z.isfinite().all().item<bool>() ? 1 : 0;
  if (!chains_broke && guard_->chains_out_of_range(state.z)) chains_broke = 2;
  if (chains_broke && !comm_) throw DivergedError(chain_failure(out.iteration, chains_broke, ""));

  // Loss and update (ranks: every rank reaches the allreduce, broken chains or not).
  const double lr = options_.schedule.at(iteration_, options_.iterations, options_.lr) * lr_scale_;
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  optimizer_->zero_grad();
  at::Tensor f_all = model_->energy(at::cat({x, state.z.detach()}, 0));
  at::Tensor f_x = f_all.slice(0, 0, M), f_z = f_all.slice(0, M);
  at::Tensor loss = -(f_x.mean() - f_z.mean());
  if (options_.energy_l2 > 0) {
    loss = loss + options_.energy_l2 * (f_x.pow(2).mean() + f_z.pow(2).mean());
  }
  loss.backward();
  std::array<double, 3> global{};
  if (comm_) global = average_over_ranks(loss, f_x, f_z, chains_broke);
  const double grad_norm = parameter_grad_norm();
  const double loss_v = comm_ ? global[0] : loss.item<double>();
  if (!std::isfinite(loss_v) || !std::isfinite(grad_norm)) {
    throw DivergedError("iteration " + std::to_string(out.iteration) +
                        ": loss or parameter gradient became NaN/Inf");
  }
  out.f_data = comm_ ? global[1] : f_x.mean().item<double>();
  out.f_samples = comm_ ? global[2] : f_z.mean().item<double>();
  const std::string why = guard_->check(out.f_data, out.f_samples, grad_norm);
  if (!why.empty()) {
    throw DivergedError("iteration " + std::to_string(out.iteration) + ": " + why +
                        " (divergence guard, train.divergence)");
  }
  optimizer_->step();
  update_ema();
  chains_->give_back(state.z);
  iteration_++;
  if (threshold_) {
    out.threshold = sampler_->options().threshold;
    adapt_threshold(state.grad);
  }

  out.loss = loss_v;
  out.grad_norm = grad_norm;
  out.lr = lr;
  if (collect_sampler_stats) out.sampler = stats.summary();
  return out;
}

at::Tensor Trainer::positives(int64_t M) {
  if (!comm_) {
    at::Tensor x = data_(M, gen_).to(device_);
    if (options_.augment.on()) x = augment_images(x, options_.augment, gen_);
    if (options_.data_noise > 0) {
      x = x + options_.data_noise * at::randn(x.sizes(), gen_, x.options());
    }
    guard_->observe_data(x);
    return x;
  }
  // Every rank draws the same global batch (and its noise) and keeps its rows.
  at::Tensor x = data_(options_.batch_size, data_gen_);
  if (options_.augment.on()) x = augment_images(x, options_.augment, data_gen_);
  if (options_.data_noise > 0) {
    x = x + options_.data_noise * at::randn(x.sizes(), data_gen_, x.options());
  }
  guard_->observe_data(x);
  return x.narrow(0, comm_->rank() * M, M).to(device_);
}

std::string Trainer::chain_failure(int64_t iteration, int reason, const std::string& ranks) const {
  std::string what = reason == 2 ? fmt::format(
                                       "chain states left the data's range (|z| > {:.4g} = "
                                       "train.divergence.chain_range × the data's largest "
                                       "|coordinate|; divergence guard)",
                                       guard_->chain_limit())
                                 : std::string("chain states or f became NaN/Inf during sampling");
  return "iteration " + std::to_string(iteration) + ": " + what + ranks;
}

void Trainer::set_distributed(std::shared_ptr<dist::Communicator> comm, at::Generator data_gen) {
  TORCH_CHECK(comm && options_.batch_size % comm->world_size() == 0,
              "set_distributed: train.batch_size must be divisible by the world size");
  TORCH_CHECK(data_gen.device().is_cpu(), "set_distributed: the data generator must be a CPU one");
  comm_ = std::move(comm);
  data_gen_ = std::move(data_gen);
  replicas_checked_ = false;
  // Fault injection for the tests (docs/distributed.md): ANILA_FAULT_NAN=RANK:ITERATION
  // turns that rank's chains into NaN after sampling at that iteration.
  if (const char* fault = std::getenv("ANILA_FAULT_NAN")) {
    long long rank = -1, it = -1;
    if (std::sscanf(fault, "%lld:%lld", &rank, &it) == 2 && rank == comm_->rank()) {
      fault_nan_iteration_ = it;
    }
  }
}

std::array<double, 3> Trainer::average_over_ranks(const at::Tensor& loss, const at::Tensor& f_x,
                                                  const at::Tensor& f_z, int chains_broke) {
  const int64_t N = comm_->world_size(), r = comm_->rank();
  std::vector<at::Tensor> grads, parts;
  for (const auto& p : model_->parameters()) {
    if (!p.grad().defined()) continue;
    grads.push_back(p.grad());
    parts.push_back(p.grad().reshape(-1));
  }
  // [gradients..., loss, mean f(x), mean f(z), broken flag of rank 0..N-1]
  const auto opts = parts.empty() ? loss.options() : parts[0].options();
  at::Tensor flags = at::zeros({N}, opts);
  if (chains_broke) flags[r] = chains_broke;
  parts.push_back(at::stack({loss.detach(), f_x.detach().mean(), f_z.detach().mean()}).to(opts));
  parts.push_back(flags);
  at::Tensor flat = at::cat(parts);
  const std::string it = std::to_string(iteration_ + 1);
  comm_->allreduce_sum(flat, "iteration " + it + " (gradient allreduce)");
  int64_t offset = 0;
  for (auto& g : grads) {
    g.copy_(flat.narrow(0, offset, g.numel()).view_as(g)).div_(static_cast<double>(N));
    offset += g.numel();
  }
  const at::Tensor tail = flat.narrow(0, offset, 3 + N).to(at::kCPU, at::kDouble);
  std::string broken;
  int reason = 0;
  for (int64_t q = 0; q < N; ++q) {
    const int flag = static_cast<int>(tail[3 + q].item<double>());
    if (flag > 0) broken += (broken.empty() ? "" : ", ") + std::to_string(q);
    if (flag > 0 && (reason == 0 || flag < reason)) reason = flag;  // NaN first
  }
  if (!broken.empty()) {
    throw DivergedError(chain_failure(
        iteration_ + 1, reason,
        std::string(" on rank") + (broken.find(',') != std::string::npos ? "s " : " ") + broken));
  }
  return {tail[0].item<double>() / N, tail[1].item<double>() / N, tail[2].item<double>() / N};
}

void Trainer::check_replicas(const std::string& when) const {
  // FNV-1a over every parameter's bytes, compared across the ranks.
  uint64_t h = 1469598103934665603ULL;
  for (const auto& p : model_->parameters()) {
    const at::Tensor t = p.detach().to(at::kCPU).contiguous();
    const auto* bytes = static_cast<const uint8_t*>(t.data_ptr());
    for (size_t i = 0; i < t.nbytes(); ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
  }
  int64_t mine;
  std::memcpy(&mine, &h, sizeof mine);
  const at::Tensor all =
      comm_->allgather(at::tensor({mine}, at::kLong), when + " (parameter check)");
  for (int64_t q = 1; q < comm_->world_size(); ++q) {
    if (all[q][0].item<int64_t>() != all[0][0].item<int64_t>()) {
      throw std::runtime_error("rank " + std::to_string(q) +
                               " holds model parameters different from rank 0's " + when);
    }
  }
}

at::Tensor Trainer::draw_samples(int64_t n, at::Generator& gen, int64_t steps) {
  return draw_samples(n, gen, steps, {}, nullptr);
}

at::Tensor Trainer::draw_samples(int64_t n, at::Generator& gen, int64_t steps,
                                 const std::vector<int64_t>& keep, std::vector<at::Tensor>* kept) {
  if (steps < 0) steps = options_.mcmc_steps;
  at::Tensor x = data_(n, gen).to(device_);
  at::Tensor z0 = chains_->draw(n, x, gen);
  const auto logp = chain_log_density();
  ChainState state = ChainState::start(z0, *logp);
  int64_t done = 0;
  for (int64_t at_step : keep) {
    TORCH_CHECK(at_step >= done && at_step <= steps,
                "draw_samples: keep must be ascending within 0..steps, got ", at_step);
    if (at_step > done) sampler_->run(state, *logp, at_step - done, gen);
    done = at_step;
    if (kept) kept->push_back(state.z.clone());
  }
  if (steps > done) sampler_->run(state, *logp, steps - done, gen);
  return state.z;
}

void Trainer::save_checkpoint(const std::string& path) const {
  at::Tensor bank = chains_->state();
  at::Tensor rank_rng_states;
  if (comm_) {
    // Every rank's bank and generator; rank 0 writes them all.
    const std::string what = "the checkpoint at iteration " + std::to_string(iteration_);
    check_replicas("at " + what);
    if (bank.defined()) bank = comm_->allgather(bank, what).flatten(0, 1);
    rank_rng_states = comm_->allgather(gen_.get_state(), what);
    if (comm_->rank() != 0) return;
  }
  torch::serialize::OutputArchive archive;
  write_state(archive);
  if (bank.defined()) archive.write("chain_bank", bank.cpu());
  if (comm_) {
    archive.write("world_size", at::tensor(comm_->world_size(), at::kLong));
    archive.write("rank_rng_states", rank_rng_states.cpu());
    archive.write("data_rng_state", data_gen_.get_state());
  }
  // anila's own format, written by its checked writer (io/checkpoint_file.h).
  io::write_checkpoint(path, archive);
}

// Model, optimizer, iteration, generator, and what the options add (EMA, the
// learning-rate scale of rollbacks, the divergence guard's running scales).
void Trainer::write_state(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive model_archive, optim_archive;
  model_->save(model_archive);
  optimizer_->save(optim_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optim_archive);
  archive.write("iteration", at::tensor(iteration_, at::kLong));
  archive.write("rng_state", gen_.get_state());
  archive.write("lr_scale", at::tensor(lr_scale_, at::kDouble));
  archive.write("divergence_state", guard_->state());
  if (threshold_) archive.write("threshold_state", threshold_->state());
  if (!ema_.empty()) {
    torch::serialize::OutputArchive ema_archive;
    for (size_t i = 0; i < ema_.size(); ++i) ema_archive.write(std::to_string(i), ema_[i].cpu());
    archive.write("ema", ema_archive);
  }
}

void Trainer::load_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw UserError("checkpoint " + path + " not found");
  }
  torch::serialize::InputArchive archive;
  io::read_checkpoint(path, archive, device_);  // checks length, checksum and every entry
  {
    at::Tensor world;
    checkpoint_world_size_ = archive.try_read("world_size", world) ? world.item<int64_t>() : 1;
  }
  const int64_t N = comm_ ? comm_->world_size() : 1;
  if (comm_ && checkpoint_world_size_ != N) {
    throw UserError(
        "checkpoint " + path + " was written by " + std::to_string(checkpoint_world_size_) +
        " rank(s), this run has " + std::to_string(N) + "; resume it with " +
        (checkpoint_world_size_ == 1 ? std::string("a single process (no --nproc)")
                                     : "--nproc " + std::to_string(checkpoint_world_size_)));
  }
  read_model(archive, path);
  try {
    read_state(archive, path);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError("checkpoint " + path + " does not match the config (optimizer or chains): " +
                    std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
}

void Trainer::read_model(torch::serialize::InputArchive& archive, const std::string& path) {
  // LibTorch's archive reader swaps in each saved tensor whatever its shape, so
  // compare every parameter's shape with the configured model's.
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& p : model_->named_parameters())
    shapes.push_back({p.key(), p.value().sizes().vec()});
  // Loading swaps in new parameter tensors: a captured graph would read the old ones.
  graph_.reset();
  if (graph_status_ == "captured") graph_status_ = "pending";
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model_->load(model_archive);
  } catch (const std::exception&) {
    throw UserError("checkpoint " + path +
                    " does not match the configured model (different architecture?)");
  }
  model_->set_compute(model_->compute());  // the loaded weights come in contiguous
  const auto loaded = model_->named_parameters();
  for (const auto& [name, shape] : shapes) {
    const at::Tensor* p = loaded.find(name);
    if (!p || p->sizes().vec() != shape) {
      throw UserError("checkpoint " + path + " does not match the configured model: parameter " +
                      name + " has shape " + (p ? c10::str(p->sizes()) : "none") +
                      " in the checkpoint, the config's model expects " +
                      c10::str(at::IntArrayRef(shape)) + " (different architecture?)");
    }
  }
}

void Trainer::read_state(torch::serialize::InputArchive& archive, const std::string& path) {
  torch::serialize::InputArchive optim_archive;
  archive.read("optimizer", optim_archive);
  optimizer_->load(optim_archive);
  at::Tensor it, rng, bank, t;
  archive.read("iteration", it);
  archive.read("rng_state", rng);
  iteration_ = it.item<int64_t>();
  lr_scale_ = archive.try_read("lr_scale", t) ? t.item<double>() : 1.0;
  if (archive.try_read("divergence_state", t)) guard_->set_state(t);
  if (threshold_ && archive.try_read("threshold_state", t)) {
    threshold_->set_state(t);
    if (threshold_->steps() > 0) sampler_->set_threshold(threshold_->final_threshold());
  }
  if (comm_) {
    // This rank's generator and its rows of the global bank.
    at::Tensor rngs, data_rng;
    archive.read("rank_rng_states", rngs);
    archive.read("data_rng_state", data_rng);
    rng = rngs[comm_->rank()];
    data_gen_.set_state(data_rng.cpu().contiguous());
  }
  gen_.set_state(rng.cpu().contiguous());
  if (chains_->state().defined()) {
    archive.read("chain_bank", bank);
    const int64_t b = chains_->state().size(0), N = comm_ ? comm_->world_size() : 1;
    if (comm_ && bank.size(0) == b * N) bank = bank.narrow(0, comm_->rank() * b, b).clone();
    chains_->set_state(bank);
  }
  read_ema(archive, path);
  replicas_checked_ = false;
}

// A checkpoint without an EMA (written with train.ema = 0) starts it from the weights.
void Trainer::read_ema(torch::serialize::InputArchive& archive, const std::string& path) {
  if (ema_.empty()) return;
  at::NoGradGuard no_grad;
  const auto params = model_->parameters();
  torch::serialize::InputArchive ema_archive;
  const bool has = archive.try_read("ema", ema_archive);
  for (size_t i = 0; i < ema_.size(); ++i) {
    at::Tensor e;
    if (!has || !ema_archive.try_read(std::to_string(i), e)) {
      ema_[i] = params[i].detach().clone();
      continue;
    }
    if (e.sizes() != params[i].sizes()) {
      throw UserError("checkpoint " + path + ": its EMA of parameter " + std::to_string(i) +
                      " has shape " + shape_text(e.sizes()) + ", the model's is " +
                      shape_text(params[i].sizes()));
    }
    ema_[i] = e.to(params[i].device(), params[i].scalar_type()).contiguous();
  }
}

}  // namespace anila
