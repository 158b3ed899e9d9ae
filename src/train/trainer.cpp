// trainer.cpp — Algorithm 1, optimisers, lr schedules, checkpoints.
#include "anila/train/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>

#include "anila/config.h"
#include "anila/io/checkpoint_file.h"

namespace anila {

namespace {
constexpr double kPi = 3.14159265358979323846;
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
          {"checkpoint_every", checkpoint_every}};
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
}

Trainer::~Trainer() = default;

IterationStats Trainer::step(bool collect_sampler_stats) {
  const int64_t M = options_.batch_size;
  IterationStats out;
  out.iteration = iteration_ + 1;

  // Positives, with optional data noise.
  at::Tensor x = data_(M, gen_).to(device_);
  if (options_.data_noise > 0) {
    x = x + options_.data_noise * at::randn(x.sizes(), gen_, x.options());
  }

  // Negatives: K sampler steps from the chain source, θ frozen.
  at::Tensor z0 = chains_->draw(M, x, gen_);
  ModelLogDensity logp(model_);
  SamplerStats stats;
  ChainState state = ChainState::start(z0, logp);
  sampler_->run(state, logp, options_.mcmc_steps, gen_, collect_sampler_stats ? &stats : nullptr);
  if (!state.f.isfinite().all().item<bool>() || !state.z.isfinite().all().item<bool>()) {
    throw DivergedError("iteration " + std::to_string(out.iteration) +
                        ": chain states or f became NaN/Inf during sampling");
  }

  // Loss and update.
  const double lr = options_.schedule.at(iteration_, options_.iterations, options_.lr);
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  optimizer_->zero_grad();
  at::Tensor f_all = model_->forward(at::cat({x, state.z.detach()}, 0));
  at::Tensor f_x = f_all.slice(0, 0, M), f_z = f_all.slice(0, M);
  at::Tensor loss = -(f_x.mean() - f_z.mean());
  if (options_.energy_l2 > 0) {
    loss = loss + options_.energy_l2 * (f_x.pow(2).mean() + f_z.pow(2).mean());
  }
  loss.backward();
  double grad_norm;
  if (options_.grad_clip > 0) {
    grad_norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), options_.grad_clip);
  } else {
    at::Tensor sq = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device_));
    for (const auto& p : model_->parameters()) {
      if (p.grad().defined()) sq = sq + p.grad().to(at::kDouble).pow(2).sum();
    }
    grad_norm = std::sqrt(sq.item<double>());
  }
  const double loss_v = loss.item<double>();
  if (!std::isfinite(loss_v) || !std::isfinite(grad_norm)) {
    throw DivergedError("iteration " + std::to_string(out.iteration) +
                        ": loss or parameter gradient became NaN/Inf");
  }
  optimizer_->step();
  chains_->give_back(state.z);
  iteration_++;

  out.loss = loss_v;
  out.f_data = f_x.mean().item<double>();
  out.f_samples = f_z.mean().item<double>();
  out.grad_norm = grad_norm;
  out.lr = lr;
  if (collect_sampler_stats) out.sampler = stats.summary();
  return out;
}

at::Tensor Trainer::draw_samples(int64_t n, at::Generator& gen, int64_t steps) {
  return draw_samples(n, gen, steps, {}, nullptr);
}

at::Tensor Trainer::draw_samples(int64_t n, at::Generator& gen, int64_t steps,
                                 const std::vector<int64_t>& keep, std::vector<at::Tensor>* kept) {
  if (steps < 0) steps = options_.mcmc_steps;
  at::Tensor x = data_(n, gen).to(device_);
  at::Tensor z0 = chains_->draw(n, x, gen);
  ModelLogDensity logp(model_);
  ChainState state = ChainState::start(z0, logp);
  int64_t done = 0;
  for (int64_t at_step : keep) {
    TORCH_CHECK(at_step >= done && at_step <= steps,
                "draw_samples: keep must be ascending within 0..steps, got ", at_step);
    if (at_step > done) sampler_->run(state, logp, at_step - done, gen);
    done = at_step;
    if (kept) kept->push_back(state.z.clone());
  }
  if (steps > done) sampler_->run(state, logp, steps - done, gen);
  return state.z;
}

void Trainer::save_checkpoint(const std::string& path) const {
  torch::serialize::OutputArchive archive, model_archive, optim_archive;
  model_->save(model_archive);
  optimizer_->save(optim_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optim_archive);
  archive.write("iteration", at::tensor(iteration_, at::kLong));
  archive.write("rng_state", gen_.get_state());
  at::Tensor bank = chains_->state();
  if (bank.defined()) archive.write("chain_bank", bank.cpu());
  // Serialised in memory, then written by our own checked writer: LibTorch's
  // file writer throws from a destructor on a full disk (std::terminate).
  std::ostringstream payload;
  try {
    archive.save_to(payload);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw UserError("cannot write checkpoint " + path + ": " + what.substr(0, what.find('\n')));
  }
  io::write_checkpoint_file(path, payload.str());
}

void Trainer::load_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw UserError("checkpoint " + path + " not found");
  }
  torch::serialize::InputArchive archive, model_archive, optim_archive;
  const std::string payload = io::read_checkpoint_file(path);  // checks length and checksum
  try {
    archive.load_from(payload.data(), payload.size(), device_);
  } catch (const std::exception&) {
    throw UserError("checkpoint " + path + " is corrupt or not an anila checkpoint");
  }
  // LibTorch's archive reader swaps in each saved tensor whatever its shape, so
  // compare every parameter's shape with the configured model's.
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& p : model_->named_parameters())
    shapes.push_back({p.key(), p.value().sizes().vec()});
  try {
    archive.read("model", model_archive);
    model_->load(model_archive);
  } catch (const std::exception&) {
    throw UserError("checkpoint " + path +
                    " does not match the configured model (different architecture?)");
  }
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
  try {
    archive.read("optimizer", optim_archive);
    optimizer_->load(optim_archive);
    at::Tensor it, rng, bank;
    archive.read("iteration", it);
    archive.read("rng_state", rng);
    iteration_ = it.item<int64_t>();
    gen_.set_state(rng.cpu());
    if (chains_->state().defined()) {
      archive.read("chain_bank", bank);
      chains_->set_state(bank);
    }
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError("checkpoint " + path + " does not match the config (optimizer or chains): " +
                    std::string(e.what()).substr(0, std::string(e.what()).find('\n')));
  }
}

}  // namespace anila
