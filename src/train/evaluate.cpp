// evaluate.cpp — `anila eval` (see anila/train/evaluate.h).
#include "anila/train/evaluate.h"

#include <chrono>
#include <cmath>
#include <iostream>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "anila/data/images.h"
#include "anila/io/files.h"
#include "anila/io/image.h"
#include "anila/io/progress.h"
#include "anila/models/energy.h"
#include "anila/samplers/sampler.h"
#include "anila/train/experiment.h"
#include "train/image_metrics.h"

namespace anila {

Json evaluate_checkpoint(const std::string& checkpoint, const ImageEvalOptions& o) {
  if (o.n < 4) throw UserError("eval: --n must be at least 4, got " + std::to_string(o.n));
  if (o.batch < 1) throw UserError("eval: batch must be at least 1");
  const auto t0 = std::chrono::steady_clock::now();
  LoadedRun run = load_run(checkpoint, o.weights);
  if (!run.images) {
    throw UserError("eval: " + run.dir +
                    " is a 2D run; its model and sample metrics (kl, tv, sample_tv) are in "
                    "summary.json — anila eval measures image runs");
  }
  const SamplerOptions sampler_options = resolve_run_sampler(run, o.sampler);
  const std::string name = sampler_options.type;
  SamplerPtr sampler = make_sampler(sampler_options);
  const int64_t steps = o.steps >= 0 ? o.steps : run.config["train"]["mcmc_steps"].get<int64_t>();
  std::string features = o.features;
  if (features.empty()) features = run.config["eval"].value("features", std::string());
  if (features.empty()) features = "fmnist";
  const c10::Device device = parse_device(run.config["device"].get<std::string>());
  ImageMetrics metrics(features, run.config["data"], device, o.reference, o.quiet);

  at::Generator gen = make_generator(o.seed, device);
  ModelLogDensity logp(run.model);
  std::vector<at::Tensor> parts;
  io::Progress progress(o.n, "eval " + name, 0, stderr, -1, o.quiet);
  for (int64_t done = 0; done < o.n;) {
    const int64_t m = std::min(o.batch, o.n - done);
    ChainState state = ChainState::start(run.chains->noise(m, gen), logp);
    sampler->run(state, logp, steps, gen);
    if (!at::isfinite(state.z).all().item<bool>()) {
      throw DivergedError(
          fmt::format("eval: sampler {} produced NaN/Inf after {} steps", name, steps));
    }
    parts.push_back(state.z.to(at::kCPU));
    done += m;
    progress.update(done, {});
  }
  progress.finish();
  const at::Tensor samples = at::cat(parts);
  Json result = metrics.evaluate(samples, o.seed);
  result["features"] = metrics.extractor_name();
  result["n"] = o.n;
  result["reference"] = metrics.reference_size();
  result["sampler"] = sampler_options.to_json();
  result["steps"] = steps;
  result["checkpoint"] = checkpoint;
  result["weights"] = run.weights;
  result["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::string out = o.out_dir.empty() ? run.dir + "/eval-" + name : o.out_dir;
  io::make_dirs(out);
  io::write_atomic(out + "/eval.json", result.dump(2) + "\n");
  const at::Tensor shown = samples.narrow(0, 0, std::min<int64_t>(64, samples.size(0)));
  io::write_png(io::image_grid(shown, 8, shown.size(2) < 48 ? 2 : 1), out + "/samples.png");
  if (!o.quiet) {
    const std::string& t = metrics.tag();
    std::cout << fmt::format(
        "{}: FD-{} {:.4g}  KID-{} {:.4g} ± {:.2g}  ({} samples, {} {} steps, vs {} test "
        "images; features {})\n  {}/eval.json\n",
        run.dir, t, result["fd_" + t].get<double>(), t, result["kid_" + t].get<double>(),
        result["kid_" + t + "_se"].get<double>(), o.n, name, steps, metrics.reference_size(),
        metrics.extractor_name(), out);
  }
  return result;
}

}  // namespace anila
