// test_train.cpp — the trainer: a short fixed-seed run lowers KL on rings;
// checkpoint → resume is bit-identical to an uninterrupted run; divergence
// is reported; lr schedules hit their closed-form values.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "anila/config.h"
#include "anila/data/dataset2d.h"
#include "anila/eval/grid2d.h"
#include "anila/io/image.h"
#include "anila/train/experiment.h"
#include "anila/train/setup.h"
#include "anila/train/trainer.h"
#include "test_util.h"

using namespace anila;

namespace {

// A convergent-regime config small enough for a unit test.
Json small_config() {
  return Json::parse(R"({
    "seed": 11,
    "data": {"type": "rings"},
    "model": {"type": "mlp"},
    "sampler": {"type": "langevin", "step_size": 0.02, "noise_scale": 1.0},
    "chains": {"type": "persistent", "bank_size": 1000, "init": "uniform", "scale": 5.0},
    "train": {"iterations": 600, "batch_size": 100, "mcmc_steps": 10, "energy_l2": 0.1,
              "optimizer": {"type": "adam", "lr": 1e-3}},
    "eval": {"every": 0, "resolution": 128, "n_data": 4000}
  })");
}

double model_kl(Trainer& trainer, const RunSetup& s) {
  eval::Grid2D grid;
  grid.box = s.data->box();
  grid.resolution = 128;
  auto model = trainer.model();
  eval::ScalarField f = [model](const at::Tensor& x) {
    at::NoGradGuard g;
    return model->forward(x);
  };
  at::Tensor lp = eval::grid_log_density(f, trainer.sampler()->temperature(), grid);
  // KL on the grid against the data density (both normalised on the grid).
  at::Tensor ld = s.data->log_density(grid.points()).view({128, 128});
  ld = ld - at::logsumexp(ld.flatten(), 0) - std::log(grid.cell_area());
  at::Tensor p = ld.exp();
  return (p * (ld - lp)).nan_to_num(0).sum().item<double>() * grid.cell_area();
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("anila_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

}  // namespace

TEST(LrSchedule, ClosedForms) {
  LrSchedule s;
  EXPECT_DOUBLE_EQ(s.at(5, 100, 0.1), 0.1);
  s.type = "cosine";
  EXPECT_NEAR(s.at(0, 100, 0.1), 0.1, 1e-12);
  EXPECT_NEAR(s.at(50, 100, 0.1), 0.05, 1e-12);
  s.type = "step";
  s.step_every = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.at(25, 100, 0.1), 0.025);
  s.type = "constant";
  s.warmup = 10;
  EXPECT_DOUBLE_EQ(s.at(4, 100, 0.1), 0.05);
}

TEST(Trainer, ShortRunLowersKlOnRings) {
  Json cfg = resolve_config(small_config());
  RunSetup s = build_setup(cfg);
  auto trainer = make_trainer(s, cfg);
  const double kl0 = model_kl(*trainer, s);
  while (trainer->iteration() < 600) trainer->step(false);
  const double kl1 = model_kl(*trainer, s);
  EXPECT_LT(kl1, 0.6 * kl0) << "KL start " << kl0 << " end " << kl1;
}

TEST(Trainer, ResumeIsBitIdentical) {
  Json cfg = small_config();
  cfg["train"]["iterations"] = 20;
  cfg["chains"]["type"] = "replay";  // bank + reinit draws: all state must round-trip
  cfg = resolve_config(cfg);
  RunSetup s = build_setup(cfg);
  auto straight = make_trainer(s, cfg);
  for (int i = 0; i < 20; ++i) straight->step(i % 7 == 0);

  const std::string dir = temp_dir("resume");
  std::filesystem::create_directories(dir);
  auto first = make_trainer(s, cfg);
  for (int i = 0; i < 10; ++i) first->step(i % 7 == 0);
  first->save_checkpoint(dir + "/last.pt");
  auto second = make_trainer(s, cfg);
  second->load_checkpoint(dir + "/last.pt");
  EXPECT_EQ(second->iteration(), 10);
  for (int i = 10; i < 20; ++i) second->step(i % 7 == 0);

  auto pa = straight->model()->parameters(), pb = second->model()->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(at::equal(pa[i], pb[i])) << "parameter " << i;
  EXPECT_TRUE(at::equal(straight->chains()->state(), second->chains()->state()));
  std::filesystem::remove_all(dir);
}

TEST(Trainer, CorruptOrMismatchedCheckpointIsAUserError) {
  Json cfg = resolve_config(small_config());
  RunSetup s = build_setup(cfg);
  auto trainer = make_trainer(s, cfg);
  const std::string dir = temp_dir("ckpt");
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/bad.pt") << "not a checkpoint"; }
  EXPECT_THROW(trainer->load_checkpoint(dir + "/bad.pt"), UserError);
  EXPECT_THROW(trainer->load_checkpoint(dir + "/missing.pt"), UserError);
  trainer->save_checkpoint(dir + "/good.pt");
  Json other = small_config();
  other["model"]["hidden"] = {8, 8};
  other = resolve_config(other);
  RunSetup s2 = build_setup(other);
  auto small = make_trainer(s2, other);
  EXPECT_THROW(small->load_checkpoint(dir + "/good.pt"), UserError);
  std::filesystem::remove_all(dir);
}

TEST(Trainer, DivergenceThrowsNamingTheIteration) {
  Json cfg = small_config();
  cfg["train"]["optimizer"] = {{"type", "sgd"}, {"lr", 1e30}};
  cfg = resolve_config(cfg);
  RunSetup s = build_setup(cfg);
  auto trainer = make_trainer(s, cfg);
  try {
    for (int i = 0; i < 50; ++i) trainer->step(false);
    FAIL() << "expected divergence";
  } catch (const DivergedError& e) {
    EXPECT_NE(std::string(e.what()).find("iteration"), std::string::npos);
  }
}

TEST(Trainer, DeterministicForASeed) {
  Json cfg = small_config();
  cfg["train"]["iterations"] = 5;
  cfg = resolve_config(cfg);
  RunSetup s = build_setup(cfg);
  auto a = make_trainer(s, cfg), b = make_trainer(s, cfg);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(a->step(false).loss, b->step(false).loss);
  }
}

// Every shipped config resolves: no unknown keys, no bad values, data loadable.
// Stand-in files for the GPU configs' user-provided data: a CIFAR-10 batch of
// 10 records and a folder of 4 PNGs of the configured size.
static std::string stand_in_data(const Json& data, const test::TempDir& tmp) {
  const std::string type = data["type"];
  if (type == "cifar10") {
    std::ofstream out(tmp / "data_batch_1.bin", std::ios::binary);
    for (int i = 0; i < 10; ++i) {
      out.put(char(i));
      for (int j = 0; j < 3072; ++j) out.put(char((i * 7 + j) % 256));
    }
    return tmp.str();
  }
  std::filesystem::create_directories(tmp / "imgs");
  const int size = data.value("size", 32);
  for (int i = 0; i < 4; ++i) {
    io::write_png(io::Image(size, size, {uint8_t(40 * i), 20, 200}),
                  tmp / ("imgs/" + std::to_string(i) + ".png"));
  }
  return tmp / "imgs";
}

TEST(Configs, EveryShippedConfigResolves) {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(ANILA_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    Json config = load_json_file(entry.path().string());
    test::TempDir tmp;
    const std::string type = config["data"].value("type", "");
    if (type == "cifar10" || type == "image_folder") {
      config["data"]["path"] = stand_in_data(config["data"], tmp);
      config["device"] = "cpu";  // "auto" would pick a GPU where there is one; same config
    }
    Json resolved = resolve_config(config);
    EXPECT_TRUE(resolved.contains("sampler"));
    ++count;
  }
  EXPECT_GE(count, 9);
}

// The shipped configs under configs/ and configs/reproduce/.
std::vector<std::string> shipped_configs() {
  std::vector<std::string> out;
  for (const char* sub : {"/configs", "/configs/reproduce"}) {
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(ANILA_SOURCE_DIR) + sub)) {
      if (entry.path().extension() == ".json") out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Switching the sampler never runs another experiment: for every shipped
// config and every registered type X, `--set sampler.type=X` (train) and
// `--samplers X` (compare, sample, eval, bench: config_for_sampler) resolve to
// the same options, and those are the file's samplers.X under its shared
// sampler.* keys; the resolved config.json gives the same options again for
// every type (resume, sample, eval and inpaint read it).
TEST(Configs, SwitchingTheSamplerUsesThatSamplersSettings) {
  int checked = 0;
  for (const std::string& path : shipped_configs()) {
    SCOPED_TRACE(path);
    const Json config = load_json_file(path);
    ASSERT_FALSE(config.contains("compare") && config["compare"].contains("overrides"));
    ASSERT_TRUE(config.contains("samplers")) << "tuned settings belong in samplers.<type>";
    Json shared = config["sampler"];
    shared.erase("type");
    const Json resolved_sections = resolved_sampler_sections(config);
    Json resolved = config;
    for (auto& [k, v] : resolved_sections.items()) resolved[k] = v;
    for (const std::string& type : sampler_types()) {
      SCOPED_TRACE(type);
      Json train = config;
      apply_override(train, "sampler.type=" + type);
      const Json ran = resolve_sampler(train).to_json();
      EXPECT_EQ(ran, resolve_sampler(config_for_sampler(config, type)).to_json());
      EXPECT_EQ(ran, resolve_sampler(config_for_sampler(resolved, type)).to_json());
      Json expected = {{"type", type}};
      if (config["samplers"].contains(type)) expected.update(config["samplers"][type]);
      expected.update(shared);
      for (auto& [key, value] : expected.items()) {
        EXPECT_EQ(ran[key], value) << key;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 15 * 6);
}

// The two cases that motivated per-sampler settings, as `anila train` resolves them.
TEST(Configs, TunedSettingsFollowTheSampler) {
  const std::string dir = std::string(ANILA_SOURCE_DIR) + "/configs/";
  Json rings = load_json_file(dir + "rings.json");
  apply_override(rings, "sampler.type=langevin");
  EXPECT_DOUBLE_EQ(resolve_sampler(rings).step_size, 2.0);
  EXPECT_DOUBLE_EQ(resolve_sampler(rings).noise_scale, 0.0070710678);
  Json convergent = load_json_file(dir + "rings_convergent.json");
  apply_override(convergent, "sampler.type=anila");
  EXPECT_DOUBLE_EQ(resolve_sampler(convergent).threshold, 3.0);
  // sampler.* applies to whichever type runs and wins over samplers.<type>.
  apply_override(convergent, "sampler.step_size=0.5");
  EXPECT_DOUBLE_EQ(resolve_sampler(convergent).step_size, 0.5);
  EXPECT_DOUBLE_EQ(resolve_sampler(convergent, "langevin").step_size, 0.5);
  // extra (a command line's sampler keys) wins over both.
  EXPECT_DOUBLE_EQ(resolve_sampler(convergent, "anila", {{"step_size", 0.25}}).step_size, 0.25);
}

TEST(Configs, SamplerSectionErrorsNameTheKeyAndTheFix) {
  auto message = [](const Json& config) {
    try {
      resolve_sampler(config);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const Json foreign = {{"sampler", {{"type", "langevin"}, {"threshold", 0.1}}}};
  EXPECT_NE(message(foreign).find("sampler.threshold: not an option of langevin"),
            std::string::npos)
      << message(foreign);
  EXPECT_NE(message(foreign).find("samplers.anila.threshold"), std::string::npos);
  const Json in_entry = {{"samplers", {{"hmc", {{"threshold", 0.1}}}}}};
  EXPECT_NE(message(in_entry).find("samplers.hmc.threshold"), std::string::npos)
      << message(in_entry);
  const Json bad_value = {{"samplers", {{"anila", {{"threshold", -1}}}}}};
  EXPECT_NE(message(bad_value).find("samplers.anila.threshold: must be > 0"), std::string::npos)
      << message(bad_value);
  const Json unknown = {{"samplers", {{"anilla", Json::object()}}}};
  EXPECT_NE(message(unknown).find("did you mean anila"), std::string::npos) << message(unknown);
  const Json typed = {{"samplers", {{"hmc", {{"type", "hmc"}}}}}};
  EXPECT_NE(message(typed).find("samplers.hmc.type"), std::string::npos) << message(typed);
}

// A run folder written before per-sampler settings still loads, and every type
// resolves to what it ran with then: the flat sampler section inherited by
// every type, compare.overrides.<type> on top.
TEST(Configs, OldRunFoldersKeepTheirSamplerSettings) {
  const Json old = {
      {"sampler",
       {{"type", "anila"}, {"step_size", 1.0}, {"noise_scale", 0.5}, {"threshold", 0.01}}},
      {"compare",
       {{"samplers", "langevin,anila"}, {"overrides", {{"langevin", {{"step_size", 1e-4}}}}}}}};
  const Json upgraded = upgrade_run_config(old);
  EXPECT_FALSE(upgraded["compare"].contains("overrides"));
  const SamplerOptions anila = resolve_sampler(upgraded);
  EXPECT_EQ(anila.type, "anila");
  EXPECT_DOUBLE_EQ(anila.step_size, 1.0);
  EXPECT_DOUBLE_EQ(anila.threshold, 0.01);
  EXPECT_DOUBLE_EQ(anila.noise_scale, 0.5);
  const SamplerOptions langevin = resolve_sampler(upgraded, "langevin");
  EXPECT_DOUBLE_EQ(langevin.step_size, 1e-4);
  EXPECT_DOUBLE_EQ(langevin.noise_scale, 0.5);
  const SamplerOptions mh = resolve_sampler(upgraded, "anila-mh");  // inherited, as then
  EXPECT_DOUBLE_EQ(mh.step_size, 1.0);
  EXPECT_DOUBLE_EQ(mh.threshold, 0.01);
  EXPECT_DOUBLE_EQ(resolve_sampler(upgraded, "hmc").noise_scale, 0.5);
  // A config that already has samplers is left alone.
  EXPECT_EQ(upgrade_run_config(upgraded), upgraded);
}

// compare.overrides (the old place for per-sampler settings) is refused with
// what to write instead, before anything runs.
TEST(Configs, CompareOverridesGetAMigrationMessage) {
  Json config = {{"data", {{"type", "rings"}}},
                 {"compare", {{"overrides", {{"langevin", {{"step_size", 1e-4}}}}}}}};
  try {
    resolve_config(config);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("compare.overrides"), std::string::npos) << m;
    EXPECT_NE(m.find("{\"samplers\": {\"langevin\":{\"step_size\":0.0001}}}"), std::string::npos)
        << m;
  }
}

// A config is validated and resolved without opening its image files: the
// shape comes from the data section; the files are read by build_setup, and a
// missing folder is then a one-line error naming data.path.
TEST(Configs, ValidationOpensNoImageFile) {
  test::TempDir tmp;
  const std::string missing = tmp / "no-such-folder";
  Json config = {{"data", {{"type", "image_folder"}, {"path", missing}, {"size", 32}}},
                 {"model", {{"type", "convnet"}, {"n_f", 4}}},
                 {"train", {{"iterations", 2}, {"batch_size", 4}, {"mcmc_steps", 2}}},
                 {"chains", {{"type", "noise"}}}};
  const RunConfig parsed = parse_run_config(config);
  EXPECT_TRUE(parsed.image_data);
  EXPECT_EQ(parsed.sample_shape, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(parsed.config["data"]["path"], missing);
  EXPECT_EQ(resolve_config(config), parsed.config);
  const std::string m = test::user_error_message([&] { build_setup(parsed); });
  EXPECT_NE(m.find("data.path"), std::string::npos) << m;
  // A bad key of the data section is still an error at validation.
  config["data"]["channels"] = 2;
  const std::string bad = test::user_error_message([&] { parse_run_config(config); });
  EXPECT_NE(bad.find("data.channels"), std::string::npos) << bad;
}

// A comparison runs each sampler with its own settings (samplers.<type>), also
// when the base config's sampler is another type, and the run folder records
// exactly what ran.
TEST(Compare, EachSamplerRunsWithItsOwnSettings) {
  test::TempDir tmp;
  Json cfg = {{"data", {{"type", "rings"}}},
              {"sampler", {{"type", "langevin"}}},
              {"samplers",
               {{"langevin", {{"step_size", 0.003}}},
                {"anila", {{"step_size", 0.01}, {"threshold", 2e-4}}}}},
              {"train", {{"iterations", 2}, {"batch_size", 10}, {"mcmc_steps", 2}}},
              {"eval", {{"samples", 20}, {"chains", 20}, {"n_data", 20}, {"n_mmd", 20}}}};
  CompareOptions o;
  o.samplers = {"langevin", "anila"};
  o.out_dir = tmp / "cmp";
  o.quiet = true;
  o.jobs = 1;
  compare_samplers(cfg, o);
  Json anila_cfg = load_json_file(tmp / "cmp/anila/seed0/config.json");
  EXPECT_EQ(anila_cfg["sampler"]["type"], "anila");
  EXPECT_EQ(anila_cfg["samplers"]["anila"]["threshold"].get<double>(), 2e-4);
  EXPECT_EQ(anila_cfg["samplers"]["anila"]["step_size"].get<double>(), 0.01);
  Json summary = load_json_file(tmp / "cmp/langevin/seed0/summary.json");
  EXPECT_EQ(summary["sampler_settings"]["step_size"].get<double>(), 0.003);
}
