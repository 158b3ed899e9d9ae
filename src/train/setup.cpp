// setup.cpp — config -> dataset, model, sampler, chains, trainer (see anila/train/setup.h).
#include "anila/train/setup.h"

#include <mutex>

#include <ATen/ATen.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/models/energy.h"
#include "anila/samplers/registry.h"
#include "anila/train/distributed.h"
#include "train/image_metrics.h"
#include "train/memory_check.h"

namespace anila {

namespace {

EvalConfig parse_eval(const Json& section) {
  ConfigReader r(section, "eval");
  EvalConfig e;
  e.every = r.integer("every", e.every, Range::non_negative());
  e.samples = r.integer("samples", e.samples, Range::at_least(2));
  e.chains = r.integer("chains", e.chains, Range::at_least(2));
  e.resolution = r.integer("resolution", e.resolution, {8, 4096});
  e.hist_bins = r.integer("hist_bins", e.hist_bins, {2, 1024});
  e.n_data = r.integer("n_data", e.n_data, Range::at_least(10));
  e.n_mmd = r.integer("n_mmd", e.n_mmd, Range::at_least(10));
  e.long_run_steps = r.integer("long_run_steps", e.long_run_steps, Range::at_least(-1));
  e.features = r.string("features", e.features);
  check_feature_spec(e.features, "eval.features");
  e.fd_samples = r.integer("fd_samples", e.fd_samples, Range::at_least(4));
  e.fd_reference = r.integer("fd_reference", e.fd_reference, Range::at_least(4));
  r.allow({"box"});
  if (r.has("box")) {
    const Json& b = section["box"];
    bool ok = b.is_array() && b.size() == 4;
    for (size_t i = 0; ok && i < 4; ++i) ok = b[i].is_number();
    if (ok) e.box = b.get<std::vector<double>>();
    if (!ok || !(e.box[0] < e.box[1] && e.box[2] < e.box[3])) {
      throw UserError(
          "eval.box: expected [xmin, xmax, ymin, ymax] with xmin < xmax, ymin < ymax, got " +
          describe_json(b));
    }
  }
  r.finish();
  return e;
}

}  // namespace

RunSetup build_setup(const Json& config, std::shared_ptr<data::ImageDataset> images) {
  RunSetup s;
  ConfigReader top(config, "");
  s.seed = static_cast<uint64_t>(top.integer("seed", 123, Range::non_negative()));
  std::string device = top.string("device", "cpu");
  s.device = parse_device(device);
  s.threads = top.integer("threads", 1, {0, 1024});
  s.tf32 = top.boolean("tf32", false);
  top.string("name", "");
  top.allow({"reproduce"});  // anila reproduce's own section (configs/reproduce/*.json)
  Json data_section = top.object("data");
  if (data_section.is_null()) data_section = Json{{"type", "rings"}};
  Json data_json;
  if (data_section.contains("type") && data_section["type"].is_string() &&
      data::is_image_dataset_type(data_section["type"].get<std::string>())) {
    s.images = images ? images : data::load_image_dataset_shared(data_section, "data");
    const auto sizes = s.images->images.sizes();
    s.sample_shape = {sizes[1], sizes[2], sizes[3]};
    data_json = data_section;
  } else {
    s.data = data::make_dataset2d(data_section, "data");
    data_json = s.data->to_json();
  }
  {
    ConfigReader dr(data_section, "data");
    s.data_noise = dr.number("noise", 0.0, Range::non_negative());
  }
  EnergyModelPtr model = make_model(top.object("model"), s.sample_shape, "model");
  top.allow({"sampler", "samplers"});
  s.sampler = resolve_sampler(config);
  ChainOptions chains = parse_chain_options(top.object("chains"), "chains");
  s.train = parse_train_options(top.object("train"), "train");
  s.train.data_noise = s.data_noise;
  s.eval = parse_eval(top.object("eval"));
  if (!s.eval.features.empty() && !s.images) {
    throw UserError(
        "eval.features: FD/KID apply to image data; 2D runs report kl, tv and "
        "sample_tv instead (set eval.features to \"\")");
  }
  if (s.eval.long_run_steps < 0) s.eval.long_run_steps = 10 * s.train.mcmc_steps;
  if (s.eval.long_run_steps > 0 && s.eval.long_run_steps < s.train.mcmc_steps) {
    throw UserError("eval.long_run_steps (" + std::to_string(s.eval.long_run_steps) +
                    ") must be 0 (off) or at least train.mcmc_steps (" +
                    std::to_string(s.train.mcmc_steps) + ")");
  }
  Json compare = top.object("compare");
  {
    ConfigReader cr(compare, "compare");
    if (cr.has("overrides")) reject_compare_overrides(cr.object("overrides"));
    cr.string("samplers", kDefaultComparedSamplers);
    cr.integer("seeds", 1, Range::at_least(1));
    cr.finish();
  }
  Json bench = top.object("bench");
  {
    ConfigReader br(bench, "bench");
    br.integer("batch_size", s.train.batch_size, Range::at_least(1));
    br.integer("mcmc_steps", s.train.mcmc_steps, Range::at_least(1));
    br.integer("iterations", 20, Range::at_least(1));
    br.integer("repeats", 5, Range::at_least(1));
    br.string("samplers", kDefaultComparedSamplers);
    br.finish();
  }
  top.finish();
  check_run_memory(s, chains);  // before anything is allocated

  if ((chains.type == "persistent" || chains.type == "replay") &&
      s.train.batch_size > chains.bank_size) {
    throw UserError("train.batch_size (" + std::to_string(s.train.batch_size) +
                    ") is larger than chains.bank_size (" + std::to_string(chains.bank_size) + ")");
  }

  if (s.data_noise > 0) data_json["noise"] = s.data_noise;
  s.config = {{"seed", s.seed},
              {"device", device},
              {"threads", s.threads},
              {"tf32", s.tf32},
              {"data", data_json},
              {"model", model->to_json()},
              {"chains", chains.to_json()},
              {"train", s.train.to_json()},
              {"eval", s.eval.to_json()}};
  const Json sampler_sections = resolved_sampler_sections(config);
  for (auto& [key, section] : sampler_sections.items()) s.config[key] = section;
  if (config.contains("name")) s.config["name"] = config["name"];
  if (!compare.is_null()) s.config["compare"] = compare;
  if (!bench.is_null()) s.config["bench"] = bench;
  return s;
}

Json EvalConfig::to_json() const {
  Json j = {{"every", every},
            {"samples", samples},
            {"chains", chains},
            {"resolution", resolution},
            {"hist_bins", hist_bins},
            {"n_data", n_data},
            {"n_mmd", n_mmd},
            {"long_run_steps", long_run_steps},
            {"features", features},
            {"fd_samples", fd_samples},
            {"fd_reference", fd_reference}};
  if (!box.empty()) j["box"] = box;
  return j;
}

std::unique_ptr<Trainer> make_trainer(const RunSetup& s, const Json& resolved,
                                      const std::shared_ptr<dist::Communicator>& comm) {
  if (s.device.is_cuda()) set_cuda_tf32(s.tf32);
  const int64_t world = comm ? comm->world_size() : 1;
  if (comm) dist::check_world_size(resolved, world);
  const uint64_t chain_seed = comm ? dist::rank_seed(s.seed, comm->rank()) : s.seed;
  at::Generator gen = make_generator(chain_seed, s.device);
  at::Generator init_gen = make_generator(chain_seed + 1, s.device);
  ChainOptions chain_options = parse_chain_options(resolved["chains"]);
  chain_options.bank_size /= world;  // this rank's share
  SamplerPtr sampler = make_sampler(s.sampler);
  EnergyModelPtr model;
  {
    // Parameter initialisation draws on the global generator: seed it, and keep
    // concurrent runs (anila compare) from interleaving their draws.
    static std::mutex init_mutex;
    std::lock_guard<std::mutex> lock(init_mutex);
    at::manual_seed(s.seed);
    model = make_model(resolved["model"], s.sample_shape, "model");
  }
  ChainSourcePtr chains = make_chain_source(chain_options, s.sample_shape, s.device, init_gen);
  const data::Dataset2D* data = s.data.get();
  std::shared_ptr<data::ImageDataset> images = s.images;
  // Datasets draw on a CPU generator. When the trainer's generator is a CUDA
  // one, the draws come from a CPU generator of their own, seeded from the run's
  // seed. (Deriving a fresh one from the CUDA generator's seed gave every
  // iteration the same batch: current_seed() does not advance.) Its state is not
  // in the checkpoint, so a resumed CUDA run draws other batches than an
  // uninterrupted one would.
  at::Generator data_cpu_gen = make_generator(s.seed + 2, at::kCPU);
  DataFn data_fn = [data, images, data_cpu_gen](int64_t M, at::Generator& g) mutable {
    at::Generator& cpu = g.device().is_cpu() ? g : data_cpu_gen;
    return images ? data::sample_images(*images, M, cpu) : data->sample(M, cpu);
  };
  auto trainer = std::make_unique<Trainer>(model, sampler, chains, data_fn, s.train, gen, s.device);
  if (comm) trainer->set_distributed(comm, make_generator(s.seed, c10::kCPU));
  return trainer;
}

std::unique_ptr<Trainer> make_trainer(const RunSetup& setup) {
  return make_trainer(setup, setup.config);
}

}  // namespace anila
