// test_reproduce.cpp — `anila reproduce`: experiment lookup, the report (every
// table and figure it names is there, the HTML embeds the PNGs, table cells
// agree with the runs' summaries), reuse of finished runs, resume of an
// interrupted one, the image columns of the comparison table, and inpainting.
//
// The rings experiment runs at a tiny budget (T = 40, K = 10, M = 50, small
// evaluation batches) so the whole file takes a few seconds.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "anila/config.h"
#include "anila/io/files.h"
#include "anila/io/report.h"
#include "anila/train/experiment.h"
#include "anila/train/reproduce.h"
#include "test_util.h"
#include "train/reproduce_sweep.h"

namespace fs = std::filesystem;

namespace anila {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Json read_json(const std::string& path) {
  return Json::parse(slurp(path));
}

fs::file_time_type mtime(const std::string& path) {
  return fs::last_write_time(path);
}

// The figure paths a markdown report links: ![alt](path).
std::vector<std::string> figure_paths(const std::string& md) {
  std::vector<std::string> out;
  std::regex re(R"(!\[[^\]]*\]\(([^)]+)\))");
  for (auto it = std::sregex_iterator(md.begin(), md.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// The report line of a table row starting with "| name ".
std::string table_row(const std::string& md, size_t from, const std::string& name) {
  const size_t p = md.find("\n| " + name + " ", from);
  if (p == std::string::npos) return "";
  return md.substr(p + 1, md.find('\n', p + 1) - p - 1);
}

// Checks every "Table N." caption is followed by a markdown table and every
// linked figure is a PNG in `dir` whose bytes the HTML embeds.
void check_report(const std::string& dir, int min_tables, int min_figures) {
  ASSERT_TRUE(fs::exists(dir + "/report.md"));
  ASSERT_TRUE(fs::exists(dir + "/report.html"));
  const std::string md = slurp(dir + "/report.md");
  const std::string html = slurp(dir + "/report.html");
  int tables = 0;
  for (size_t p = md.find("Table 1."); p != std::string::npos;
       p = md.find(fmt::format("Table {}.", tables + 1), p)) {
    ++tables;
    const size_t table_start = md.find("\n|", p);
    const size_t next_blank = md.find("\n\n", p);
    ASSERT_NE(table_start, std::string::npos) << "Table " << tables << " has no table";
    EXPECT_LT(table_start, next_blank + 2) << "Table " << tables << " caption not followed by rows";
    EXPECT_NE(html.find(fmt::format("Table {}.", tables)), std::string::npos);
  }
  EXPECT_GE(tables, min_tables) << md;
  const std::vector<std::string> figs = figure_paths(md);
  EXPECT_GE(static_cast<int>(figs.size()), min_figures);
  for (const auto& f : figs) {
    const std::string path = dir + "/" + f;
    ASSERT_TRUE(fs::exists(path)) << f;
    const std::string bytes = slurp(path);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << f;
    EXPECT_NE(html.find("data:image/png;base64," + io::base64_encode(bytes)), std::string::npos)
        << f << " is not embedded in report.html";
  }
}

// The tiny-budget rings experiment shared by the tests below.
ReproduceOptions tiny_rings(const std::string& out) {
  ReproduceOptions o;
  o.out_dir = out;
  o.quiet = true;
  o.iterations = 40;  // log_every 10 → 1, checkpoint_every 250 → 10 (scaled by 40/1000)
  o.seeds = 2;
  o.jobs = 2;
  o.sets = {
      "train.mcmc_steps=10", "train.batch_size=50",        "eval.every=5",    "eval.samples=300",
      "eval.chains=300",     "eval.resolution=40",         "eval.n_data=400", "eval.n_mmd=100",
      "eval.hist_bins=16",   "reproduce.mcmc_steps=[5,10]"};
  return o;
}

const std::vector<std::string> kRingsSamplers = {
    "langevin", "anila", "anila-authors", "mala", "anila-mh", "hmc", "gd"};

TEST(Reproduce, UnknownNameListsTheExperiments) {
  ReproduceOptions o;
  o.out_dir = "/nonexistent/never-written";
  std::string msg = test::user_error_message([&] { reproduce("ringz", o); });
  EXPECT_NE(msg.find("unknown experiment \"ringz\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean rings"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rings, gmm, fashion-mnist, flowers, cifar10, celeba-inpainting"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(fs::exists("/nonexistent/never-written"));
}

TEST(Reproduce, EveryExperimentHasAFile) {
  const std::map<std::string, std::vector<std::string>> samplers = {
      {"rings", kRingsSamplers},
      {"gmm", kRingsSamplers},
      {"fashion-mnist", {"langevin", "anila", "anila-paper", "mala"}},
      {"flowers", {"langevin", "anila", "hmc"}},
      {"cifar10", {"langevin", "anila", "hmc"}},
      {"celeba-inpainting", {"langevin", "anila", "hmc"}}};
  ASSERT_EQ(reproduce_experiments().size(), samplers.size());
  for (const auto& name : reproduce_experiments()) {
    SCOPED_TRACE(name);
    const std::string path = find_reproduce_config(name);
    Json c = load_json_file(path);
    ASSERT_TRUE(c["reproduce"].is_object());
    EXPECT_TRUE(c["reproduce"]["title"].is_string());
    std::string want;
    for (const auto& s : samplers.at(name)) want += (want.empty() ? "" : ",") + s;
    EXPECT_EQ(c["compare"]["samplers"], want);
  }
  // The published numbers (docs/reproducing.md, "flowers and cifar10").
  Json flowers = load_json_file(find_reproduce_config("flowers"))["reproduce"]["published"];
  EXPECT_EQ(flowers["values"], Json({{"langevin", 65.2}, {"anila", 48.1}, {"hmc", 49.9}}));
  Json cifar = load_json_file(find_reproduce_config("cifar10"))["reproduce"]["published"];
  EXPECT_EQ(cifar["values"], Json({{"langevin", 50.9}, {"anila", 42.5}, {"hmc", 38.8}}));
  // The 2D experiments resolve as training configs (without their reproduce section).
  for (const char* name : {"rings", "gmm"}) {
    Json c = load_json_file(find_reproduce_config(name));
    c.erase("reproduce");
    EXPECT_NO_THROW(resolve_config(c)) << name;
    EXPECT_EQ(c["compare"]["seeds"], 5);
  }
}

TEST(Reproduce, RingsReportReuseAndResume) {
  test::TempDir tmp("anila_reproduce");
  const std::string out = tmp / "rings";
  ReproduceOptions o = tiny_rings(out);
  Json result = reproduce("rings", o);
  EXPECT_EQ(result["report"], out + "/report.md");
  check_report(out, /*min_tables=*/4, /*min_figures=*/5);
  const std::string md = slurp(out + "/report.md");

  // The command that reproduces it, and the scaled intervals it implies.
  EXPECT_NE(md.find("anila reproduce rings --seeds 2 --iterations 40 --set train.mcmc_steps=10"),
            std::string::npos);
  Json run_config = read_json(out + "/anila/seed0/config.json");
  EXPECT_EQ(run_config["eval"]["every"], 5);  // --set applies after the scaling
  EXPECT_EQ(run_config["train"]["log_every"], 1);
  EXPECT_EQ(run_config["train"]["checkpoint_every"], 10);
  EXPECT_EQ(run_config["train"]["iterations"], 40);
  EXPECT_EQ(run_config["samplers"]["anila"]["threshold"], 0.01);
  EXPECT_EQ(read_json(out + "/hmc/seed0/config.json")["samplers"]["hmc"]["leapfrog_steps"], 1);

  // Evaluations at 5, 10, ..., 35 and the final 40: the columns nearest to
  // 40·j/5 = 8, 16, 24, 32 are 10, 15, 25, 30.
  const size_t tv_table = md.find("sample TV");
  ASSERT_NE(tv_table, std::string::npos);
  const size_t header_at = md.find("\n| sampler", tv_table) + 1;
  const std::string header = md.substr(header_at, md.find('\n', header_at) - header_at);
  for (const char* col : {"| it 10 ", "| it 15 ", "| it 25 ", "| it 30 ", "| it 40 "}) {
    EXPECT_NE(header.find(col), std::string::npos) << col << " in " << header;
  }
  for (const char* col : {"| it 5 ", "| it 20 ", "| it 35 "}) {
    EXPECT_EQ(header.find(col), std::string::npos) << col << " in " << header;
  }

  // Final column = mean ± sd (n − 1) of the two seeds' summary.json values.
  for (const auto& s : kRingsSamplers) {
    SCOPED_TRACE(s);
    const double a = read_json(out + "/" + s + "/seed0/summary.json")["sample_tv"];
    const double b = read_json(out + "/" + s + "/seed1/summary.json")["sample_tv"];
    const std::string cellv =
        fmt::format("{:.4f} ± {:.4f}", (a + b) / 2, std::fabs(a - b) / std::sqrt(2.0));
    const std::string row = table_row(md, tv_table, s);
    ASSERT_FALSE(row.empty());
    EXPECT_NE(row.find(cellv), std::string::npos) << row << " vs " << cellv;
  }

  // The K sweep: the runs at K = 5 in out/K5, one table per sample metric with a
  // column per K, every cell the mean ± sd of that K's runs, the verdict in words.
  const size_t sweep = md.find("## Sampler steps K");
  ASSERT_NE(sweep, std::string::npos);
  const size_t sweep_header = md.find("\n| sampler", sweep) + 1;
  const std::string sweep_cols =
      md.substr(sweep_header, md.find('\n', sweep_header) - sweep_header);
  EXPECT_NE(sweep_cols.find("| K = 5 "), std::string::npos) << sweep_cols;
  EXPECT_NE(sweep_cols.find("| K = 10 "), std::string::npos) << sweep_cols;
  for (const auto& s : kRingsSamplers) {
    SCOPED_TRACE(s);
    const double a = read_json(out + "/K5/" + s + "/seed0/summary.json")["sample_tv"];
    const double b = read_json(out + "/K5/" + s + "/seed1/summary.json")["sample_tv"];
    EXPECT_EQ(read_json(out + "/K5/" + s + "/seed0/config.json")["train"]["mcmc_steps"], 5);
    const std::string row = table_row(md, sweep, s);
    EXPECT_NE(
        row.find(fmt::format("{:.4f} ± {:.4f}", (a + b) / 2, std::fabs(a - b) / std::sqrt(2.0))),
        std::string::npos)
        << row;
  }
  for (const char* line :
       {"At K = 5, anila's sample_tv is", "At K = 10, anila-authors's sample_tv is",
        "At K = 5, anila-mh's sample_tv is", "At K = 10, mala's sample_tv is"})
    EXPECT_NE(md.find(line, sweep), std::string::npos) << line;
  const std::string csv = slurp(out + "/sweep.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 7 * 2 * 2);
  EXPECT_NE(csv.find("anila-authors,5,1,completed,"), std::string::npos);
  // The reference figure beside this report's own value of the same metric.
  const std::string ref_row = table_row(md, md.find("reference: sample TV"), "langevin");
  EXPECT_NE(ref_row.find(
                fmt::format("{:.4g}", read_json(find_reproduce_config(
                                          "rings"))["reproduce"]["published"]["values"]["langevin"]
                                          .get<double>())),
            std::string::npos)
      << ref_row;

  // Re-running reuses every finished run: nothing is rewritten.
  std::map<std::string, fs::file_time_type> before;
  for (const auto& s : kRingsSamplers) {
    for (int i = 0; i < 2; ++i) {
      const std::string d = fmt::format("{}/{}/seed{}", out, s, i);
      before[d + "/summary.json"] = mtime(d + "/summary.json");
      before[d + "/checkpoints/last.pt"] = mtime(d + "/checkpoints/last.pt");
    }
  }
  reproduce("rings", o);
  for (const auto& [path, t] : before) EXPECT_EQ(mtime(path), t) << path << " was rewritten";
  EXPECT_NE(slurp(out + "/report.md").find("28 of 28 runs were reused"), std::string::npos);

  // An interrupted run (summary.json gone, checkpoint kept) is resumed, not
  // restarted: its config.json (written only by a fresh start) stays as it was.
  const std::string victim = out + "/mala/seed1";
  const auto config_time = mtime(victim + "/config.json");
  fs::remove(victim + "/summary.json");
  reproduce("rings", o);
  EXPECT_EQ(read_json(victim + "/summary.json")["status"], "completed");
  EXPECT_EQ(mtime(victim + "/config.json"), config_time);
  for (const auto& [path, t] : before) {
    if (path.rfind(victim, 0) == 0) continue;
    EXPECT_EQ(mtime(path), t) << path << " was rewritten";
  }
  EXPECT_NE(slurp(out + "/report.md").find("27 of 28 runs were reused"), std::string::npos);
  check_report(out, 4, 5);

  // Another budget into the same folder would mix runs: refused without --force.
  ReproduceOptions other = o;
  other.iterations = 41;
  std::string msg = test::user_error_message([&] { reproduce("rings", other); });
  EXPECT_NE(msg.find("different configuration"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/train/iterations"), std::string::npos) << msg;
}

TEST(Reproduce, DivergedRunsAreShownNotDropped) {
  test::TempDir tmp("anila_reproduce_div");
  ReproduceOptions o = tiny_rings(tmp / "div");
  // A learning rate of 1e30 makes f non-finite after the first update: every
  // run diverges at iteration 2, before any evaluation.
  o.sets.push_back("train.optimizer.lr=1e30");
  o.sets.push_back("compare.samplers=langevin,anila");
  reproduce("rings", o);
  check_report(o.out_dir, /*min_tables=*/2, /*min_figures=*/3);
  const std::string md = slurp(o.out_dir + "/report.md");
  for (const char* s : {"langevin", "anila"}) {
    SCOPED_TRACE(s);
    EXPECT_EQ(read_json(o.out_dir + "/" + s + "/seed1/summary.json")["status"], "diverged");
    const std::string setup = table_row(md, md.find("Table 1."), s);
    EXPECT_NE(setup.find("0/2 completed; seed0 diverged at iteration 2; seed1 diverged at "
                         "iteration 2"),
              std::string::npos)
        << setup;
    const std::string final_row = table_row(md, md.find("Final metrics"), s);
    EXPECT_NE(final_row.find("diverged (2/2)"), std::string::npos) << final_row;
  }
  EXPECT_NE(slurp(o.out_dir + "/compare.md").find("langevin (2 of 2 diverged)"), std::string::npos);
  // The verdict says why there is no comparison.
  EXPECT_NE(md.find("At K = 10, anila's sample_tv is - against langevin's -: no comparison, "
                    "every finished run of anila diverged (2)."),
            std::string::npos)
      << md;
}

TEST(Reproduce, ImageExperimentTablesPublishedNumbersAndInpainting) {
  test::TempDir tmp("anila_reproduce_img");
  anila::test::write_idx_images(tmp / "train-images-idx3-ubyte", 16);
  Json experiment = {
      {"reproduce",
       {{"title", "tiny images"},
        {"published",
         {{"source", "a paper"},
          {"metric", "Inception FID"},
          {"iterations", 100000},
          {"values", {{"langevin", 65.2}, {"anila", 48.1}}}}},
        {"inpaint", {{"n", 3}, {"mask", "center"}, {"steps", 2}}}}},
      {"seed", 5},
      {"data", {{"type", "idx"}, {"path", tmp / "train-images-idx3-ubyte"}}},
      {"model", {{"type", "convnet"}, {"n_f", 4}}},
      {"sampler", {{"type", "anila"}, {"step_size", 1.0}, {"noise_scale", 0.01}}},
      {"samplers", {{"anila", {{"threshold", 0.01}}}}},
      {"chains", {{"type", "noise"}}},
      {"train", {{"iterations", 4}, {"batch_size", 8}, {"mcmc_steps", 8}, {"log_every", 1}}},
      {"eval", {{"every", 0}, {"samples", 12}, {"long_run_steps", 16}}},
      {"compare", {{"samplers", "langevin,anila"}}}};
  const std::string file = tmp / "tiny.json";
  io::write_atomic(file, experiment.dump(2));
  ReproduceOptions o;
  o.config_path = file;
  o.out_dir = tmp / "out";
  o.quiet = true;

  // A mistake in the report's own section is found before any training.
  ReproduceOptions bad = o;
  bad.sets = {"reproduce.inpaint.mask=square"};
  std::string msg = test::user_error_message([&] { reproduce("tiny", bad); });
  EXPECT_NE(msg.find("reproduce.inpaint.mask"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(o.out_dir));

  Json result = reproduce("tiny", o);
  const std::string out = o.out_dir;

  // compare.md/csv: the image columns, not the 2D ones.
  const std::string cmp = slurp(out + "/compare.md");
  EXPECT_NE(cmp.find("energy gap (short run)"), std::string::npos) << cmp;
  EXPECT_NE(cmp.find("energy gap (long run)"), std::string::npos) << cmp;
  EXPECT_EQ(cmp.find("sample_tv"), std::string::npos) << cmp;
  const std::string csv = slurp(out + "/compare.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "sampler,runs,diverged,energy_gap_mean,energy_gap_sd,energy_gap_long_run_mean,"
            "energy_gap_long_run_sd,seconds_mean,seconds_sd");

  check_report(out, /*min_tables=*/5, /*min_figures=*/4);
  std::string md = slurp(out + "/report.md");
  EXPECT_NE(md.find("published Inception FID (100000 iterations)"), std::string::npos);
  EXPECT_NE(table_row(md, md.find("published Inception FID"), "anila").find("48.1"),
            std::string::npos);
  EXPECT_NE(md.find("energy gap mean f(data)"),
            std::string::npos);  // the headline without features
  EXPECT_TRUE(fs::exists(out + "/inpaint/anila/inpainted.npy"));
  EXPECT_TRUE(result["inpaint"]["langevin"]["mse"].is_number());
  EXPECT_NE(md.find("mse (masked pixels)"), std::string::npos);

  // A run whose summary holds feature metrics gets fd_/kid_ columns, in the
  // comparison table and in the report (the other sampler shows "-").
  const std::string sj = out + "/anila/seed0/summary.json";
  Json s = read_json(sj);
  s["fd_toy"] = 12.5;
  s["kid_toy"] = 0.25;
  s["kid_toy_se"] = 0.01;
  s["n_generated"] = 200;  // sizes the runs record next to the metrics: not columns
  s["n_reference"] = 1000;
  s["features"] = "toy-net";
  io::write_atomic(sj, s.dump(2));
  reproduce("tiny", o);
  const std::string cmp2 = slurp(out + "/compare.md");
  const std::string anila_row = table_row(cmp2, 0, "anila");
  EXPECT_NE(anila_row.find("12.500"), std::string::npos) << cmp2;
  EXPECT_NE(anila_row.find("0.25000"), std::string::npos) << cmp2;
  EXPECT_NE(anila_row.find("0.01000"), std::string::npos) << cmp2;
  const std::string cmp_header = cmp2.substr(cmp2.find("| sampler"));
  EXPECT_LT(cmp_header.find("fd_toy"), cmp_header.find("kid_toy ")) << cmp2;
  EXPECT_NE(table_row(cmp2, 0, "langevin").find("| -"), std::string::npos) << cmp2;
  EXPECT_EQ(cmp2.find("n_generated"), std::string::npos) << cmp2;
  EXPECT_EQ(cmp2.find("n_reference"), std::string::npos) << cmp2;
  md = slurp(out + "/report.md");
  // The headline is now FD-toy (final iteration 4 only, from summary.json).
  const size_t fd_table = md.find("FD-toy (Fréchet distance in toy features");
  ASSERT_NE(fd_table, std::string::npos) << md;
  EXPECT_NE(md.find("| it 4 ", fd_table), std::string::npos);
  EXPECT_NE(table_row(md, fd_table, "anila").find("12.50"), std::string::npos) << md;
  EXPECT_NE(table_row(md, fd_table, "langevin").find("| -"), std::string::npos) << md;
  EXPECT_NE(md.find("this report: FD-toy (final)"), std::string::npos);
  EXPECT_EQ(md.find("FD-samples"), std::string::npos) << md;
  EXPECT_NE(md.find("FD-toy (200 chains against 1000 data images; features: toy-net)"),
            std::string::npos)
      << md;
  EXPECT_NE(table_row(md, md.find("Final metrics"), "anila").find("12.50"), std::string::npos)
      << md;
  // One K: the verdict in words without the K tables (langevin has no FD here).
  const size_t verdict = md.find("## Verdict");
  ASSERT_NE(verdict, std::string::npos) << md;
  EXPECT_EQ(md.find("## Sampler steps K"), std::string::npos);
  EXPECT_NE(md.find("At K = 8, anila's fd_toy is 12.50", verdict), std::string::npos) << md;
  EXPECT_NE(md.find("not enough finished runs", verdict), std::string::npos) << md;
  check_report(out, 5, 4);
}

}  // namespace
}  // namespace anila

namespace anila {

// The verdict's sentence: the direction, the size in absolute, relative and seed-sd
// terms, and whether the difference exceeds twice its standard error.
TEST(ReproduceSweep, ContrastSentenceJudgesTheDifferenceAgainstItsStandardError) {
  // Means 0.21 vs 0.30, sd 0.01 each, n = 3: se = 0.01·√(2/3) = 0.0082 < 0.09 / 2.
  SweepContrast clear{"anila", "langevin", "sample_tv", 25, {0.20, 0.21, 0.22}, {0.29, 0.30, 0.31}};
  const std::string a = contrast_sentence(clear, "{:.4f}");
  EXPECT_NE(a.find("At K = 25, anila's sample_tv is 0.2100 ± 0.0100 against langevin's "
                   "0.3000 ± 0.0100: lower (better) by 0.0900 (30 %), 9.0 seed sd — beyond "
                   "twice its standard error (0.0082)."),
            std::string::npos)
      << a;
  // Means 0.305 vs 0.30 with sd 0.05: within the noise.
  SweepContrast noise{"anila", "langevin", "sample_tv", 50, {0.25, 0.36}, {0.29, 0.31}};
  const std::string b = contrast_sentence(noise, "{:.3f}");
  EXPECT_NE(b.find("higher (worse) by 0.005"), std::string::npos) << b;
  EXPECT_NE(b.find("no clear difference"), std::string::npos) << b;
  // One seed: no spread to judge by.
  SweepContrast one{"anila", "langevin", "sample_tv", 100, {0.2}, {0.3}};
  EXPECT_NE(contrast_sentence(one, "{:.3f}").find("one seed, so no spread"), std::string::npos);
  SweepContrast none{"anila", "langevin", "sample_tv", 100, {}, {0.3}};
  EXPECT_NE(contrast_sentence(none, "{:.3f}").find("not enough finished runs"), std::string::npos);
  SweepContrast diverged{"anila", "langevin", "sample_tv", 100, {}, {0.3}, 3, 0};
  EXPECT_NE(contrast_sentence(diverged, "{:.3f}")
                .find("no comparison, every finished run of anila diverged (3)."),
            std::string::npos)
      << contrast_sentence(diverged, "{:.3f}");
  // The summary over K: clearly lower at 25, neither at 50 and 100 (one seed).
  EXPECT_EQ(contrast_outcome(clear), -1);
  EXPECT_EQ(contrast_outcome(noise), 0);
  SweepContrast worse{"anila", "langevin",         "sample_tv",
                      200,     {0.29, 0.30, 0.31}, {0.20, 0.21, 0.22}};
  EXPECT_EQ(contrast_outcome(worse), 1);
  EXPECT_EQ(contrast_summary({clear, noise, one, worse}),
            "**anila against langevin**: sample_tv clearly lower (better) at K = 25; clearly "
            "higher (worse) at K = 200; no clear difference at K = 50, 100.");
}

}  // namespace anila
