// test_cli.cpp — end-to-end tests of the `anila` command: train, compare and
// bench on tiny budgets, and every bad input from the foundation issue giving
// exit code 2 (3 for a diverged run) with a one-line message.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_util.h"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

using anila::test::Result;
using anila::test::run;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("anila_cli_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }
  // A config that trains in about a second.
  std::string tiny_config(const std::string& extra = "") const {
    return write("tiny.json", R"({"seed": 1, "data": {"type": "rings"},
      "sampler": {"type": "anila", "noise_scale": 1.0},
      "samplers": {"anila": {"step_size": 0.05, "threshold": 1.0},
                   "langevin": {"step_size": 0.05}},
      "chains": {"type": "persistent", "bank_size": 500, "scale": 5.0},
      "train": {"iterations": 30, "batch_size": 50, "mcmc_steps": 5, "log_every": 10,
                "checkpoint_every": 10, "optimizer": {"type": "adam", "lr": 1e-3}},
      "eval": {"every": 15, "samples": 500, "chains": 200, "resolution": 64, "hist_bins": 32,
               "n_data": 1000, "n_mmd": 200})" +
                                  extra + "}");
  }
  fs::path dir_;
};

Json read_json(const std::string& p) {
  std::ifstream in(p);
  return Json::parse(in);
}

}  // namespace

TEST_F(Cli, TrainWritesACompleteRunFolder) {
  std::string out = path("run");
  Result r = run("train --config " + tiny_config() + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"config.json", "metrics.csv", "metrics.jsonl", "summary.json",
                        "checkpoints/last.pt", "figure.png", "samples.npy", "log_density.npy"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  Json summary = read_json(out + "/summary.json");
  for (const char* k : {"kl", "tv", "nll", "sample_tv", "sample_mmd"}) {
    EXPECT_TRUE(summary[k].is_number()) << k;
  }
  EXPECT_EQ(summary["grid"]["resolution"], 64);
  EXPECT_TRUE(summary["grid"].contains("xmin"));
  Json config = read_json(out + "/config.json");
  EXPECT_EQ(config["samplers"]["anila"]["anisotropy"], "both");  // defaults filled in
  EXPECT_EQ(config["train"]["optimizer"]["type"], "adam");
  // samples.npy holds eval.samples chains of dimension 2 (min with the bank size 500).
  std::ifstream npy(out + "/samples.npy", std::ios::binary);
  std::string head(128, '\0');
  npy.read(head.data(), 128);
  EXPECT_NE(head.find("(500, 2)"), std::string::npos) << head;
  EXPECT_NE(r.output.find("sample quality"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model quality"), std::string::npos) << r.output;
  // Where the time went: every phase in summary.json and one line on stdout.
  for (const char* k : {"startup", "features", "training", "evaluations", "final"}) {
    EXPECT_GE(summary["time_s"][k].get<double>(), 0.0) << k;
  }
  EXPECT_GT(summary["time_s"]["training"].get<double>(), 0.0);
  EXPECT_NE(r.output.find("startup (data, model)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("iterations), in-run evaluations"), std::string::npos) << r.output;

  // An existing run folder needs --force or --resume.
  Result again = run("train --config " + tiny_config() + " --out " + out);
  EXPECT_EQ(again.code, 2) << again.output;
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
  EXPECT_EQ(run("train --config " + tiny_config() + " --out " + out + " --force --quiet").code, 0);
}

TEST_F(Cli, ResumeContinuesFromTheCheckpoint) {
  std::string out = path("run");
  ASSERT_EQ(run("train --quiet --config " + tiny_config() + " --out " + out +
                " --set train.iterations=20")
                .code,
            0);
  // Extend the run: edit the recorded budget and resume.
  Json config = read_json(out + "/config.json");
  config["train"]["iterations"] = 30;
  std::ofstream(out + "/config.json") << config.dump(2);
  Result r = run("train --quiet --resume " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_json(out + "/summary.json")["iterations"], 30);
}

TEST_F(Cli, CompareWritesTableAndFigure) {
  std::string out = path("cmp");
  Result r = run("compare --quiet --config " + tiny_config() +
                 " --samplers langevin,anila --seeds 2 --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"compare.md", "compare.csv", "compare.png", "langevin/seed0/summary.json",
                        "anila/seed1/summary.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  std::ifstream md(out + "/compare.md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| langevin"), std::string::npos) << text;
  EXPECT_NE(text.find("| anila"), std::string::npos) << text;
  EXPECT_NE(text.find("±"), std::string::npos) << text;  // two seeds: mean ± sd
}

// Switching the sampler from the command line trains that sampler with its own
// tuned settings, the same ones `anila compare --samplers X` runs with: Langevin
// at s = 1e-3 on configs/rings_tuned.json (not AniLA's s = 1, which blew up), AniLA at
// b = 3 on configs/rings_convergent.json (not the default b = 1 there), and the
// named variant anila-authors of configs/rings.json (norm sample, noise ∝ γ).
TEST_F(Cli, SwitchingTheSamplerKeepsItsTunedSettings) {
  const std::string configs = std::string(ANILA_SOURCE_DIR) + "/configs/";
  const std::string tiny =
      " --set train.iterations=2 --set train.mcmc_steps=2 --set train.log_every=1"
      " --set eval.every=0 --set eval.samples=50 --set eval.chains=50 --set eval.resolution=16"
      " --set eval.n_data=50 --set eval.n_mmd=20 --set chains.bank_size=100"
      " --set train.batch_size=20";
  struct Case {
    const char* config;
    const char* type;  // the name given: a type or a named variant
    const char* key;
    double value;
    const char* runs;  // the type it runs
  };
  for (const Case& c : {Case{"rings_tuned.json", "langevin", "step_size", 1e-3, "langevin"},
                        Case{"rings_convergent.json", "anila", "threshold", 3.0, "anila"},
                        Case{"rings.json", "anila-authors", "noise_power", 1.0, "anila"}}) {
    SCOPED_TRACE(c.config);
    const std::string train_out = path(std::string("train_") + c.type);
    Result t = run("train --config " + configs + c.config + " --set sampler.type=" + c.type + tiny +
                   " --quiet --out " + train_out);
    ASSERT_EQ(t.code, 0) << t.output;
    const Json ran = read_json(train_out + "/summary.json")["sampler_settings"];
    EXPECT_EQ(ran["type"], c.runs);
    EXPECT_DOUBLE_EQ(ran[c.key].get<double>(), c.value);
    const Json config = read_json(train_out + "/config.json");
    EXPECT_EQ(config["sampler"]["type"], c.type);
    EXPECT_EQ(config["samplers"][c.type], [&] {
      Json j = ran;
      if (std::string(c.type) == c.runs) j.erase("type");  // a variant records its type
      return j;
    }());

    const std::string cmp_out = path(std::string("compare_") + c.type);
    Result r = run("compare --config " + configs + c.config + " --samplers " + c.type + tiny +
                   " --quiet --jobs 1 --out " + cmp_out);
    ASSERT_EQ(r.code, 0) << r.output;
    const Json compared =
        read_json(cmp_out + "/" + c.type + "/seed0/summary.json")["sampler_settings"];
    EXPECT_EQ(compared, ran);
  }
  // A key of another type gets a message that says where it goes.
  Result bad = run("train --config " + configs + "rings.json --set sampler.type=langevin" +
                   " --set sampler.threshold=0.3 --out " + path("bad"));
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("samplers.anila.threshold"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(path("bad")));
}

TEST_F(Cli, BenchPrintsJson) {
  Result r = run("bench --config " + tiny_config() + " --iterations 2 --repeats 1");
  ASSERT_EQ(r.code, 0) << r.output;
  Json j = Json::parse(r.output.substr(r.output.find('{')));
  EXPECT_GT(j["langevin"]["ms_per_iteration"].get<double>(), 0);
  EXPECT_GT(j["anila"]["us_per_step_per_chain"].get<double>(), 0);
  EXPECT_TRUE(j["anila_overhead_percent"]["step"].is_number());
  // CPU time, the recorded peak and the fraction of it the MLP's step reached.
  EXPECT_GT(j["langevin"]["cpu_ms_per_iteration"].get<double>(), 0);
  EXPECT_GT(j["peak_gflops_per_thread"]["float32"].get<double>(), 0);
  const double fraction = j["anila"]["fraction_of_peak"].get<double>();
  EXPECT_GT(fraction, 0);
  EXPECT_LT(fraction, 1.5);  // a per-thread rate cannot be far above the matrix-product peak
  EXPECT_EQ(j["precision"], "float32");
  EXPECT_EQ(j["fast_path"], true);
}

// Each bad input: exit 2, one line naming the key or file, no run folder left behind.
TEST_F(Cli, BadInputsGiveExitTwoAndAClearLine) {
  struct Case {
    std::string args, expect;
  };
  std::string cfg = tiny_config();
  std::string csv_missing = write(
      "missing_data.json", R"({"data": {"type": "csv", "path": ")" + path("nope.csv") + R"("}})");
  write("garbled.csv", "x,y\n1,2\n3,4\n5;six\n");
  std::string csv_garbled = write("garbled_data.json", R"({"data": {"type": "csv", "path": ")" +
                                                           path("garbled.csv") + R"("}})");
  write("notafolder", "");
  std::vector<Case> cases = {
      {"train --config " + cfg + " --set sampler.stepsize=1", "did you mean sampler.step_size"},
      {"train --config " + cfg + " --set sampler.step_size=abc",
       "sampler.step_size: expected a number"},
      {"train --config " + cfg + " --set sampler.step_size=0", "sampler.step_size: must be > 0"},
      {"train --config " + cfg + " --set train.mcmc_steps=0", "train.mcmc_steps: must be >= 1"},
      {"train --config " + cfg + " --set sampler.threshold=-1", "sampler.threshold: must be > 0"},
      {"train --config " + cfg + " --set samplers.anila.threshold=automatic",
       "samplers.anila.threshold: expected a number > 0 or \"auto\""},
      {"train --config " + cfg + " --set samplers.anila.threshold_quantile=-0.5",
       "samplers.anila.threshold_quantile: must be"},
      {"train --config " + cfg + " --set eval.holdout=1", "eval.holdout: must be"},
      {"train --config " + cfg + " --set train.batch_size=600", "larger than chains.bank_size"},
      {"train --config " + cfg + " --set data.type=ringz", "did you mean rings"},
      {"train --config " + path("absent.json"), "absent.json"},
      {"train --config " + csv_missing, "nope.csv"},
      {"train --config " + csv_garbled, "garbled.csv:4"},
      {"train --config " + cfg + " --out " + path("notafolder") + "/run", "notafolder"},
      {"compare --config " + cfg + " --samplers langevin,anilla", "did you mean anila"},
      {"train --config " + cfg + " --bogus", "bogus"},
  };
  for (const auto& c : cases) {
    Result r = run(c.args + " --out " + path("out_" + std::to_string(&c - &cases[0])));
    if (c.args.find(" --out ") != std::string::npos) r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find("anila: error: "), std::string::npos) << r.output;
    EXPECT_LE(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(fs::exists(path("out_" + std::to_string(&c - &cases[0])))) << c.args;
  }
}

// threshold "auto": b is logged per metrics row, config.json says "auto", summary.json
// the final b.
TEST_F(Cli, ThresholdAutoIsLoggedAndSummarised) {
  std::string out = path("auto");
  Result r =
      run("train --quiet --config " + tiny_config() + " --out " + out +
          " --set samplers.anila.threshold=auto --set samplers.anila.threshold_quantile=0.75");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_json(out + "/config.json")["samplers"]["anila"]["threshold"], "auto");
  const Json summary = read_json(out + "/summary.json");
  EXPECT_EQ(summary["sampler_settings"]["threshold"], "auto");
  EXPECT_EQ(summary["sampler_settings"]["threshold_quantile"], 0.75);
  ASSERT_TRUE(summary["threshold_final"].is_number()) << summary.dump();
  std::ifstream rows(out + "/metrics.jsonl");
  std::vector<double> b;
  for (std::string line; std::getline(rows, line);) {
    const Json row = Json::parse(line);
    if (row.contains("threshold")) b.push_back(row["threshold"].get<double>());
  }
  ASSERT_GE(b.size(), 3u);  // iterations 10, 20, 30 (log_every 10)
  EXPECT_NE(b.front(), b.back());
  std::ifstream csv(out + "/metrics.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find(",threshold,"), std::string::npos) << header;
}

// A 2D evaluation whose box is too small: the warning is said once per run (not at
// each of the three evaluations) and kept in summary.json; compare says it once per run.
TEST_F(Cli, GridWarningIsSaidOncePerRun) {
  const std::string cfg = write("small_box.json", R"({"seed": 1, "data": {"type": "rings"},
      "sampler": {"type": "langevin"}, "samplers": {"langevin": {"step_size": 0.05},
      "anila": {"step_size": 0.05, "threshold": 1.0}},
      "chains": {"type": "persistent", "bank_size": 200, "scale": 5.0},
      "train": {"iterations": 20, "batch_size": 50, "mcmc_steps": 5, "log_every": 10},
      "eval": {"every": 5, "samples": 200, "chains": 100, "resolution": 32, "hist_bins": 16,
               "n_data": 500, "n_mmd": 100, "box": [-0.5, 0.5, -0.5, 0.5]}})");
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  const std::string out = path("box");
  Result r = run("train --quiet --config " + cfg + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(count(r.output, "eval box is too small"), 1u) << r.output;
  EXPECT_NE(r.output.find("anila: warning: "), std::string::npos) << r.output;
  const Json summary = read_json(out + "/summary.json");
  ASSERT_TRUE(summary.contains("grid_warning")) << summary.dump();
  EXPECT_NE(summary["grid_warning"].get<std::string>().find("eval.box"), std::string::npos);
  r = run("compare --quiet --jobs 1 --config " + cfg + " --samplers langevin,anila --out " +
          path("cmp"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(count(r.output, "eval box is too small"), 2u) << r.output;
}

// CSV data: eval.holdout of the points are never trained on, nll is computed on them
// and is the run's model metric (summary, final printout).
TEST_F(Cli, CsvRunReportsNllOnHeldOutPoints) {
  std::string points = "x,y\n";
  for (int i = 0; i < 200; ++i) {
    const double a = 0.0314159 * i * 2;
    points += std::to_string((i % 2 ? 1.5 : -1.5) + 0.3 * std::cos(a)) + "," +
              std::to_string(0.3 * std::sin(3 * a)) + "\n";
  }
  write("points.csv", points);
  const std::string cfg = write(
      "csv.json", R"({"seed": 3, "data": {"type": "csv", "path": ")" + path("points.csv") + R"("},
      "sampler": {"type": "langevin", "step_size": 0.05},
      "chains": {"type": "persistent", "bank_size": 200, "scale": 3.0},
      "train": {"iterations": 10, "batch_size": 50, "mcmc_steps": 5, "log_every": 5},
      "eval": {"every": 0, "samples": 200, "resolution": 32, "hist_bins": 16, "n_mmd": 100,
               "holdout": 0.25}})");
  const std::string out = path("csv");
  Result r = run("train --config " + cfg + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const Json summary = read_json(out + "/summary.json");
  EXPECT_EQ(summary["nll_data"], "held_out");
  EXPECT_EQ(summary["nll_points"], 50);
  EXPECT_EQ(summary["model_metric"], "nll");
  EXPECT_TRUE(summary["nll"].is_number());
  EXPECT_TRUE(summary.contains("kl_note"));
  EXPECT_EQ(read_json(out + "/config.json")["eval"]["holdout"], 0.25);
  EXPECT_NE(r.output.find("nats on 50 held-out points"), std::string::npos) << r.output;
}

TEST_F(Cli, DivergedRunExitsThreeAndKeepsTheLastCheckpoint) {
  std::string out = path("div");
  Result r = run("train --quiet --config " + tiny_config() + " --out " + out +
                 " --set train.optimizer.type=sgd --set train.optimizer.lr=1e30"
                 " --set train.checkpoint_every=1");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("iteration"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last good checkpoint"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out + "/checkpoints/last.pt"));
  EXPECT_EQ(read_json(out + "/summary.json")["status"], "diverged");
}

TEST_F(Cli, HelpExitsZero) {
  Result r = run("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("--config"), std::string::npos);
}

TEST_F(Cli, SampleRunsEverySamplerOnAnalyticTargets) {
  std::string out = path("funnel");
  Result r =
      run("sample --quiet --target funnel --dim 5 --samplers mala,anila-mh,hmc,langevin,anila,gd"
          " --chains 8 --steps 100 --warmup 50 --set hmc.leapfrog_steps=3 --out " +
          out);
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream md(out + "/summary.md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  for (const char* s : {"| mala", "| anila-mh", "| hmc", "| langevin", "| anila ", "| gd"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
  EXPECT_NE(text.find("max R-hat"), std::string::npos);
  EXPECT_NE(text.find("(from mala)"), std::string::npos) << text;  // langevin borrows the step
  for (const char* s : {"mala", "hmc", "anila"}) {
    for (const char* f :
         {"draws.npy", "trace.png", "autocorr.png", "scatter.png", "summary.json"}) {
      EXPECT_TRUE(fs::exists(out + "/" + s + "/" + f)) << s << "/" << f;
    }
  }
  Json hmc = read_json(out + "/hmc/summary.json");
  EXPECT_EQ(hmc["gradients_per_step"], 3);
  EXPECT_GT(hmc["min_ess_bulk"].get<double>(), 0);
  EXPECT_TRUE(hmc["energy_distance"].is_number());

  Result ill =
      run("sample --quiet --target gaussian-ill --dim 200 --set target.condition=1e4"
          " --samplers mala,hmc --chains 4 --steps 20 --warmup 10 --out " +
          path("ill"));
  EXPECT_EQ(ill.code, 0) << ill.output;
}

TEST_F(Cli, SampleFromATrainedCheckpoint) {
  std::string runs = path("run");
  ASSERT_EQ(run("train --quiet --config " + tiny_config() + " --out " + runs).code, 0);
  Result r = run("sample --quiet --checkpoint " + runs +
                 "/checkpoints/last.pt"
                 " --samplers langevin,mala --chains 8 --steps 40 --warmup 10 --out " +
                 path("s"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(path("s") + "/mala/scatter.png"));
  EXPECT_TRUE(fs::exists(path("s") + "/summary.csv"));
}

TEST_F(Cli, SampleBadInputs) {
  struct Case {
    std::string args, expect;
  };
  std::vector<Case> cases = {
      {"sample --target funnell", "did you mean funnel"},
      {"sample --target gaussian-corr --set target.rho=2", "target.rho"},
      {"sample --target gaussian --samplers mala,hmcc", "did you mean hmc"},
      {"sample --target gaussian --set hmcc.leapfrog_steps=3", "hmcc"},
      {"sample --target gaussian --set hmc.leapfrog=3 --samplers hmc", "leapfrog_steps"},
      {"sample --target gaussian --checkpoint nowhere", "exactly one of"},
      {"sample --checkpoint " + path("nowhere"), "nowhere"},
  };
  for (const auto& c : cases) {
    Result r = run(c.args + " --out " + path("o"));
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST_F(Cli, CompareTrainsWithEverySampler) {
  std::string out = path("all");
  Result r = run("compare --quiet --config " + tiny_config() +
                 " --samplers langevin,anila,anila-mh,mala,hmc,gd --set train.iterations=10"
                 " --set samplers.hmc.leapfrog_steps=2 --out " +
                 out);
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream md(out + "/compare.md");
  std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  for (const char* s : {"| langevin", "| anila ", "| anila-mh", "| mala", "| hmc", "| gd"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
}

TEST_F(Cli, TrainsAnImageEbmAndWritesGrids) {
  anila::test::write_idx_images(path("train-images-idx3-ubyte"), 16);
  std::string cfg = write("img.json", R"({"seed": 2,
    "data": {"type": "idx", "path": ")" + path("train-images-idx3-ubyte") +
                                          R"("},
    "model": {"type": "convnet", "n_f": 4},
    "sampler": {"type": "anila", "noise_scale": 0.01},
    "samplers": {"anila": {"step_size": 1.0, "threshold": 0.01, "norm": "pixel"}},
    "chains": {"type": "noise"},
    "train": {"iterations": 4, "batch_size": 8, "mcmc_steps": 3, "log_every": 2},
    "eval": {"every": 2, "samples": 12}})");
  std::string out = path("img_run");
  Result r = run("train --quiet --config " + cfg + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"samples.png", "data.png", "figure.png", "samples.npy", "metrics.csv",
                        "samples_it000002.png", "checkpoints/last.pt"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  std::ifstream npy(out + "/samples.npy", std::ios::binary);
  std::string head(128, '\0');
  npy.read(head.data(), 128);
  EXPECT_NE(head.find("(12, 1, 28, 28)"), std::string::npos) << head;
  Json summary = read_json(out + "/summary.json");
  EXPECT_EQ(summary["status"], "completed");
  EXPECT_TRUE(summary["energy_gap"].is_number());

  Result cmp = run("compare --quiet --config " + cfg + " --samplers langevin,anila --out " +
                   path("img_cmp"));
  ASSERT_EQ(cmp.code, 0) << cmp.output;
  EXPECT_TRUE(fs::exists(path("img_cmp") + "/compare.png"));
}
