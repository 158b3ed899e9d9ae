// run_kind.cpp — 2D point runs and image runs as report kinds (see run_kind.h).
#include "train/run_kind.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "anila/data/dataset2d.h"
#include "anila/data/images.h"
#include "anila/eval/grid2d.h"
#include "anila/io/files.h"
#include "anila/samplers/sampler.h"

namespace fs = std::filesystem;

namespace anila {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- 2D point data -------------------------------------------------------------

// Data with an exact density are scored by the model's kl; data whose reference
// density is a KDE (csv, pinwheel) by nll on points never trained on (kl there is
// an approximation that can be negative).
class PointsKind : public RunKind {
 public:
  explicit PointsKind(bool exact) : exact_(exact) {}
  bool images() const override { return false; }

  std::vector<io::Column> final_columns(const FeatureKeys&) const override {
    if (!exact_) {
      return {{"sample_tv", "sample_tv (lower better)", "{:.4f}"},
              {"sample_mmd", "sample_mmd", "{:.5f}"},
              {"nll", "model nll [nats] (held-out)", "{:.3f}"},
              {"tv", "model tv (vs KDE)", "{:.4f}"},
              {"kl", "kl vs KDE (approx.)", "{:.3f}"}};
    }
    return {{"sample_tv", "sample_tv (lower better)", "{:.4f}"},
            {"sample_mmd", "sample_mmd", "{:.5f}"},
            {"kl", "model kl [nats]", "{:.3f}"},
            {"tv", "model tv", "{:.4f}"},
            {"nll", "model nll", "{:.3f}"}};
  }

  std::vector<Metric> headline(const FeatureKeys&) const override {
    const Metric sample = {"sample_tv", "sample TV (chains vs data, lower is better)", "{:.4f}"};
    if (!exact_)
      return {sample, {"nll", "model NLL on held-out points in nats (lower is better)", "{:.3f}"}};
    return {sample, {"kl", "model KL(p_data ‖ p_θ) in nats (lower is better)", "{:.3f}", true}};
  }

  std::vector<Metric> sample_metrics(const FeatureKeys&) const override {
    return {{"sample_tv", "sample TV (chains vs data, lower is better)", "{:.4f}"},
            {"sample_mmd", "sample MMD² (chains vs data, lower is better)", "{:.5f}"}};
  }

  std::string compare_note(const Json& resolved) const override {
    const double eps = resolve_sampler(resolved).noise_scale;
    return fmt::format(
        "sample_* columns measure chains drawn exactly as in training (sample quality); model "
        "columns measure the normalised density exp(f/T)/Z with T = noise_scale² (T = {:.3g} "
        "unless overridden), i.e. model quality. In the short-run regime they disagree by design: "
        "good samples, poor density.{}\n",
        eps * eps, exact_ ? "" : kHeldOut);
  }

  void compare_figure(const Json& resolved, const std::vector<ReportRun>& seed0,
                      std::vector<std::vector<io::Panel>>* rows,
                      std::vector<std::string>* labels) const override {
    const eval::Grid2D grid = report_grid(resolved);
    const int size = 220;
    for (const ReportRun& run : seed0) {
      if (run.diverged || !fs::exists(run.dir + "/log_density.npy")) continue;
      if (rows->empty()) {
        at::Tensor data_ld = io::read_npy(run.dir + "/data_log_density.npy");
        rows->push_back({{"data density", io::heatmap(data_ld.exp(), size)}});
        labels->push_back("data");
      }
      at::Tensor log_density = io::read_npy(run.dir + "/log_density.npy");
      at::Tensor samples = io::read_npy(run.dir + "/samples.npy");
      rows->push_back(
          {{"model exp(f/T)/Z", io::heatmap(log_density.exp(), size)},
           {"model log-density", io::log_heatmap(log_density, size)},
           {"chain samples", io::scatter_density(samples, grid.box.xmin, grid.box.xmax,
                                                 grid.box.ymin, grid.box.ymax, size, 120)}});
      labels->push_back(run.sampler);
    }
  }

  std::string samples_caption() const override {
    return "Each sampler's seed-0 run: data density | model density exp(f/T)/Z | model "
           "log-density | chain samples drawn as in training.";
  }

  std::vector<std::string> reading_notes(const Json& resolved, const std::vector<ReportRun>& runs,
                                         const FeatureKeys&) const override {
    double floor = NAN;
    for (const auto& r : runs)
      if (r.summary.is_object() && r.summary.contains("sample_tv_floor") &&
          r.summary["sample_tv_floor"].is_number())
        floor = r.summary["sample_tv_floor"].get<double>();
    const std::string floor_text =
        std::isfinite(floor)
            ? fmt::format(" (exact samples of the final batch's size give about {:.3f})", floor)
            : std::string();
    std::string model = fmt::format(kSampleVsModel, floor_text, batches_text(resolved));
    if (!exact_) model += kHeldOut;
    return {model, kShortRun};
  }

 private:
  bool exact_;
  static constexpr const char* kHeldOut =
      " This data has no closed-form density: nll, on points never trained on (CSV: the "
      "eval.holdout fraction of the file; pinwheel: fresh draws), is the model metric; kl and tv "
      "against the KDE reference are approximations (kl can be negative).";
  static constexpr const char* kSampleVsModel =
      "**Sample metrics** (sample_tv, sample_mmd) compare chains drawn exactly as in training "
      "with the data: they measure the sampler-plus-model as a generator. sample_tv has a "
      "finite-sample floor{}; {}. **Model metrics** (kl, tv, nll) measure the normalised density "
      "exp(f/T)/Z with T = ε² on the evaluation grid.";
  static constexpr const char* kShortRun =
      "In the short-run regime (noise-initialised chains, K steps, small noise) the two disagree "
      "by design: a model can give good samples with a poor density and the other way round. "
      "Unadjusted AniLA is biased even for small steps (its chains target exp(f/ε²)/γ; see "
      "anila's docs/samplers.md), so its model learns f ≈ log p_data + log γ; AniLA-MH and MALA "
      "remove the bias. The energy gap is mean f(data) − mean f(chains) on the training batch "
      "(near 0 when the model cannot tell chains from data); grad_abs is the mean |∇f| along "
      "the chains.";

  static std::string batches_text(const Json& resolved) {
    const int64_t n_final = resolved["eval"]["samples"].get<int64_t>();
    const int64_t n_during = resolved["eval"]["chains"].get<int64_t>();
    if (n_final == n_during)
      return fmt::format("every evaluation uses {} chains, so the columns are comparable", n_final);
    return fmt::format(
        "evaluations during training use eval.chains = {} chains and the final one "
        "eval.samples = {}, so the final column has a lower floor and is not directly "
        "comparable with the others",
        n_during, n_final);
  }

  // The evaluation grid of the runs: eval.box, else the data's box.
  static eval::Grid2D report_grid(const Json& resolved) {
    eval::Grid2D grid;
    const Json& box = resolved["eval"].value("box", Json());
    if (box.is_array() && box.size() == 4) {
      grid.box = {box[0].get<double>(), box[1].get<double>(), box[2].get<double>(),
                  box[3].get<double>()};
    } else {
      grid.box = data::make_dataset2d(resolved["data"], "data")->box();
    }
    grid.resolution = resolved["eval"]["resolution"].get<int64_t>();
    return grid;
  }
};

// ---- images ----------------------------------------------------------------------

class ImagesKind : public RunKind {
 public:
  bool images() const override { return true; }

  std::vector<io::Column> final_columns(const FeatureKeys& features) const override {
    std::vector<io::Column> columns = {
        {"energy_gap", "energy gap (short run)", "{:.4g}"},
        {"energy_gap_long_run", "energy gap (long run)", "{:.4g}"},
    };
    // Titled by their summary keys: fd_fmnist and fd_inception are different metrics.
    for (const auto& k : features.fd) columns.push_back({k, k, "{:.3f}"});
    for (const auto& k : features.kid) {
      columns.push_back({k, k, "{:.5f}"});
      columns.push_back({k + "_se", k + "_se", "{:.5f}"});
    }
    return columns;
  }

  std::vector<Metric> headline(const FeatureKeys& features) const override {
    std::vector<Metric> out;
    for (const auto& k : features.fd) {
      const std::string tag = k.substr(3);
      out.push_back({k,
                     "FD-" + tag + " (Fréchet distance in " + tag + " features, lower is better)",
                     "{:.2f}"});
    }
    if (out.empty())
      out = {{"energy_gap", "energy gap mean f(data) − mean f(chains) (training batch)", "{:.4g}"}};
    return out;
  }

  // FD in each configured feature space; none without features (the energy gap
  // is not a quality that lower values improve).
  std::vector<Metric> sample_metrics(const FeatureKeys& features) const override {
    std::vector<Metric> out;
    for (const auto& k : features.fd)
      out.push_back({k, "FD-" + k.substr(3) + " (lower is better)", "{:.2f}"});
    return out;
  }

  std::string compare_note(const Json&) const override {
    return "energy gap: mean f(data) − mean f(samples) on the final evaluation batch (short run: "
           "K steps as in training; long run: the same chains continued to eval.long_run_steps). "
           "`fd_TAG` / `kid_TAG`: Fréchet distance / kernel inception distance in the features "
           "named TAG (eval.features); they equal the published Inception FID only with the "
           "Inception network's features and the same sample counts.\n";
  }

  void compare_figure(const Json&, const std::vector<ReportRun>& seed0,
                      std::vector<std::vector<io::Panel>>* rows,
                      std::vector<std::string>* labels) const override {
    for (const ReportRun& run : seed0) {
      const std::string png = run.dir + "/samples.png";
      if (run.diverged || !fs::exists(png)) continue;
      rows->push_back({{"chain samples", io::read_png(png)}});
      labels->push_back(run.sampler);
    }
  }

  std::string samples_caption() const override {
    return "Each sampler's seed-0 run: data | chains after K steps | the same chains continued "
           "(long run).";
  }

  std::vector<std::string> reading_notes(const Json&, const std::vector<ReportRun>& runs,
                                         const FeatureKeys& features) const override {
    std::string tags;
    for (const auto& k : features.fd) tags += (tags.empty() ? "" : ", ") + ("FD-" + k.substr(3));
    std::string sizes;
    for (const auto& r : runs) {
      if (r.summary.is_object() && r.summary.contains("n_generated") &&
          r.summary.contains("n_reference")) {
        sizes = fmt::format(" ({} chains against {} data images; features: {})",
                            r.summary["n_generated"].dump(), r.summary["n_reference"].dump(),
                            r.summary.value("features", std::string("?")));
      }
    }
    const std::string computed =
        tags.empty() ? std::string(
                           " No features were configured for this report (--features "
                           "FILE), so the energy gap is the headline.")
                     : " Computed here: " + tags + sizes + ".";
    return {std::string(kFeatureDistance) + computed, kEnergyGap};
  }

 private:
  static constexpr const char* kFeatureDistance =
      "**FD-TAG** (summary key `fd_TAG`) is the Fréchet distance between Gaussian fits of feature "
      "vectors of samples and of data, in the feature network named by eval.features (`fmnist`: "
      "the built-in Fashion-MNIST classifier; a file: that TorchScript network). It is **not** "
      "the Inception FID of the paper unless the features are the same Inception network, and "
      "even then the sample count and iteration budget must match. KID is the kernel distance in "
      "the same features, with its standard error in summary.json.";
  static constexpr const char* kEnergyGap =
      "The energy gap is mean f(data) − mean f(samples): near 0 when the model cannot tell its "
      "chains from data. The long-run gap uses the same chains continued to eval.long_run_steps: "
      "a short-run model whose long-run samples drift away (gap grows, images saturate) is a "
      "generator, not a density. grad_abs is the mean |∇f| along the chains; AniLA's "
      "γ = b / max(b, |∇f|) is set from it.";
};

}  // namespace

void FeatureKeys::note(const std::string& key) {
  if (ends_with(key, "_se")) return;
  if (starts_with(key, "fd_")) fd.insert(key);
  if (starts_with(key, "kid_")) kid.insert(key);
}

void FeatureKeys::note_summary(const Json& summary) {
  if (!summary.is_object()) return;
  for (auto it = summary.begin(); it != summary.end(); ++it)
    if (it.value().is_number()) note(it.key());
}

std::unique_ptr<RunKind> run_kind(const Json& resolved) {
  if (data::is_image_dataset_type(resolved["data"]["type"].get<std::string>()))
    return std::make_unique<ImagesKind>();
  return std::make_unique<PointsKind>(
      data::dataset2d_density_exact(resolved["data"]["type"].get<std::string>()));
}

}  // namespace anila
