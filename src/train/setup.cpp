// setup.cpp — config -> dataset, model, sampler, chains, trainer (see anila/train/setup.h).
#include "anila/train/setup.h"

#include <mutex>

#include <ATen/ATen.h>

#include "anila/chains/chain_source.h"
#include "anila/config.h"
#include "anila/models/energy.h"
#include "anila/samplers/anila.h"
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
  e.holdout = r.number("holdout", e.holdout, {0.0, 1.0, false, true});
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

// The data section: its resolved JSON, and the 2D data set or the image shape.
Json parse_data(const Json& section, const std::vector<int64_t>& image_shape, RunConfig& c) {
  if (section.contains("type") && section["type"].is_string() &&
      data::is_image_dataset_type(section["type"].get<std::string>())) {
    data::check_image_section(section, "data");
    c.image_data = true;
    c.sample_shape = image_shape.empty() ? data::image_shape_hint(section) : image_shape;
    return section;
  }
  c.data = data::make_dataset2d(section, "data", {c.eval.holdout, c.seed});
  return c.data->to_json();
}

// The compare and bench sections: checked here, read by their commands.
void check_command_sections(const Json& config, const Json& compare, const Json& bench,
                            const TrainOptions& train) {
  ConfigReader cr(compare, "compare");
  if (cr.has("overrides")) reject_compare_overrides(cr.object("overrides"));
  check_sampler_list(split_list(cr.string("samplers", kDefaultComparedSamplers)),
                     "compare.samplers", config);
  cr.integer("seeds", 1, Range::at_least(1));
  cr.finish();
  ConfigReader br(bench, "bench");
  br.integer("batch_size", train.batch_size, Range::at_least(1));
  br.integer("mcmc_steps", train.mcmc_steps, Range::at_least(1));
  br.integer("iterations", 20, Range::at_least(1));
  br.integer("repeats", 5, Range::at_least(1));
  check_sampler_list(split_list(br.string("samplers", kDefaultComparedSamplers)), "bench.samplers",
                     config);
  br.finish();
}

void check_eval(const RunConfig& c) {
  if (!c.eval.features.empty() && !c.image_data) {
    throw UserError(
        "eval.features: FD/KID apply to image data; 2D runs report kl, tv and "
        "sample_tv instead (set eval.features to \"\")");
  }
  const int64_t K = c.train.mcmc_steps;
  if (c.eval.long_run_steps > 0 && c.eval.long_run_steps < K) {
    throw UserError("eval.long_run_steps (" + std::to_string(c.eval.long_run_steps) +
                    ") must be 0 (off) or at least train.mcmc_steps (" + std::to_string(K) + ")");
  }
  if ((c.chains.type == "persistent" || c.chains.type == "replay") &&
      c.train.batch_size > c.chains.bank_size) {
    throw UserError("train.batch_size (" + std::to_string(c.train.batch_size) +
                    ") is larger than chains.bank_size (" + std::to_string(c.chains.bank_size) +
                    ")");
  }
}

}  // namespace

RunConfig parse_run_config(const Json& config, const std::vector<int64_t>& image_shape) {
  RunConfig c;
  ConfigReader top(config, "");
  c.seed = static_cast<uint64_t>(top.integer("seed", 123, Range::non_negative()));
  const std::string device = top.string("device", "cpu");
  c.device = parse_device(device);
  c.threads = top.integer("threads", 1, {0, 1024});
  c.tf32 = top.boolean("tf32", false);
  top.string("name", "");
  top.allow({"reproduce"});  // anila reproduce's own section (configs/reproduce/*.json)
  Json data_section = top.object("data");
  if (data_section.is_null()) data_section = Json{{"type", "rings"}};
  c.eval = parse_eval(top.object("eval"));  // before the data: eval.holdout splits a CSV file
  Json data_json = parse_data(data_section, image_shape, c);
  c.data_noise = ConfigReader(data_section, "data").number("noise", 0.0, Range::non_negative());
  if (c.data_noise > 0) data_json["noise"] = c.data_noise;
  EnergyModelPtr model = make_model(top.object("model"), c.sample_shape, "model");
  top.allow({"sampler", "samplers"});
  c.sampler = resolve_sampler(config);
  c.chains = parse_chain_options(top.object("chains"), "chains");
  c.train = parse_train_options(top.object("train"), "train");
  c.train.data_noise = c.data_noise;
  if (c.eval.long_run_steps < 0) c.eval.long_run_steps = 10 * c.train.mcmc_steps;
  const Json compare = top.object("compare"), bench = top.object("bench");
  check_command_sections(config, compare, bench, c.train);
  top.finish();
  check_run_memory(c);  // before anything is allocated
  check_eval(c);

  c.config = {{"seed", c.seed},
              {"device", device},
              {"threads", c.threads},
              {"tf32", c.tf32},
              {"data", data_json},
              {"model", model->to_json()},
              {"chains", c.chains.to_json()},
              {"train", c.train.to_json()},
              {"eval", c.eval.to_json()}};
  const Json sampler_sections = resolved_sampler_sections(config);
  for (auto& [key, section] : sampler_sections.items()) c.config[key] = section;
  if (config.contains("name")) c.config["name"] = config["name"];
  if (!compare.is_null()) c.config["compare"] = compare;
  if (!bench.is_null()) c.config["bench"] = bench;
  return c;
}

RunSetup build_setup(const RunConfig& config, std::shared_ptr<data::ImageDataset> images) {
  RunSetup s;
  static_cast<RunConfig&>(s) = config;
  if (!s.image_data) return s;
  s.images = images ? images : data::load_image_dataset_shared(s.config["data"], "data");
  const auto sizes = s.images->images.sizes();
  const std::vector<int64_t> shape = {sizes[1], sizes[2], sizes[3]};
  // Image files of another size than the section's hint: the model and the
  // memory checks are resolved again for the shape that was read.
  if (shape != s.sample_shape) static_cast<RunConfig&>(s) = parse_run_config(s.config, shape);
  return s;
}

RunSetup build_setup(const Json& config, std::shared_ptr<data::ImageDataset> images) {
  return build_setup(parse_run_config(config), std::move(images));
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
            {"fd_reference", fd_reference},
            {"holdout", holdout}};
  if (!box.empty()) j["box"] = box;
  return j;
}

std::unique_ptr<Trainer> make_trainer(const RunSetup& s, const Json& resolved,
                                      const std::shared_ptr<dist::Communicator>& comm) {
  if (s.device.is_cuda()) set_cuda_tf32(s.tf32);
  const int64_t world = comm ? comm->world_size() : 1;
  if (comm) dist::check_world_size(resolved, world);
  if (comm && threshold_auto_quantile(s.sampler) > 0) {
    throw UserError("samplers." + sampler_name(resolved) +
                    ".threshold: \"auto\" is not available with --nproc (each rank's chains "
                    "would adapt a b of their own); give a number");
  }
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
