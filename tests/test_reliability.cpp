// test_reliability.cpp — no crash on any input, nothing lost on a full disk or
// a shared run folder (docs/reliability.md).
//
//   * Reliability.*      library checks with hand-made inputs: JSON depth and
//                        range, the checkpoint envelope, the run-folder lock,
//                        PNG checksums, IDX headers, symlink loops.
//   * BadInputCli.*      the catalogue: each bad input exits 2 with one line
//                        naming the culprit, no crash output, no folder left.
//   * Interruption.*     kill -9 before the first checkpoint, during training
//                        and while checkpoints are written; a full disk
//                        (RLIMIT_FSIZE) while writing; resume is byte-identical.
//   * Concurrency.*      two writers, --force and --resume against a running run.
//
// Budgets are tiny (a run is a second or two); the whole file runs in about 30 s
// on two cores.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <zlib.h>

#include "anila/config.h"
#include "anila/io/checkpoint_file.h"
#include "anila/io/files.h"
#include "anila/io/run_lock.h"
#include "cli_run.h"
#include "data/images_internal.h"
#include "data/points_csv.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace anila {
namespace {

using test::Result;
using test::run;
using test::TempDir;
using test::user_error_message;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Lines of `text` (a trailing newline does not make an empty line).
int lines(const std::string& text) {
  int n = int(std::count(text.begin(), text.end(), '\n'));
  return n + (!text.empty() && text.back() != '\n');
}

// Any sign of a crash or an unanticipated error in a command's output.
bool crash_output(const std::string& text) {
  for (const char* s : {"terminate called", "internal error", "Segmentation", "Aborted",
                        "Exception raised from", "what():"}) {
    if (contains(text, s)) return true;
  }
  return false;
}

// Files under `dir` whose name marks an unfinished atomic write.
std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    if (contains(it->path().filename().string(), ".tmp")) out.push_back(it->path().string());
  }
  return out;
}

// `anila ARGS` started in the background (stdout+stderr to `log`); returns its
// pid. With `file_limit` > 0 the process may not write files larger than that
// many bytes (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail with EFBIG, as on
// a full disk).
pid_t spawn(const std::string& args, const std::string& log, rlim_t file_limit = 0) {
  const std::string cmd = "exec " + std::string(ANILA_BINARY) + " " + args + " >" + log + " 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (file_limit > 0) {
      ::signal(SIGXFSZ, SIG_IGN);
      rlimit r{file_limit, file_limit};
      ::setrlimit(RLIMIT_FSIZE, &r);
    }
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid`; its exit code (-signal when killed).
int reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Polls `done` every 5 ms for at most `seconds`.
bool wait_for(const std::function<bool()>& done, double seconds = 60) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Rows of metrics.jsonl without the timing columns (which differ between runs).
std::string metrics_without_timing(const std::string& dir) {
  std::istringstream in(slurp(dir + "/metrics.jsonl"));
  std::string out;
  for (std::string line; std::getline(in, line);) {
    Json row = Json::parse(line);
    row.erase("elapsed_s");
    row.erase("it_per_s");
    out += row.dump() + "\n";
  }
  return out;
}

// A 2D config that trains in about a second; `extra` is appended inside the object.
std::string tiny_config(const TempDir& dir, const std::string& extra = "") {
  const std::string path = dir / "tiny.json";
  spit(path, R"({"seed": 1, "data": {"type": "rings"}, "model": {"type": "mlp", "hidden": [16, 16]},
      "sampler": {"type": "anila", "step_size": 0.05, "noise_scale": 1.0},
      "samplers": {"anila": {"threshold": 1.0}},
      "chains": {"type": "persistent", "bank_size": 200, "scale": 5.0},
      "train": {"iterations": 40, "batch_size": 50, "mcmc_steps": 5, "log_every": 5,
                "checkpoint_every": 5, "optimizer": {"type": "adam", "lr": 1e-3}},
      "eval": {"every": 20, "samples": 200, "chains": 100, "resolution": 32, "hist_bins": 16,
               "n_data": 200, "n_mmd": 100})" +
                 extra + "}");
  return path;
}

// ---- library -------------------------------------------------------------------

TEST(Reliability, JsonNestingIsBoundedWithAClearError) {
  const std::string deep_arrays = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_TRUE(contains(user_error_message([&] { parse_json(deep_arrays, "c.json"); }),
                       "c.json: nested deeper than 64 levels"));
  std::string deep_objects;
  for (int i = 0; i < 1000000; ++i) deep_objects += "{\"a\":";
  EXPECT_TRUE(contains(user_error_message([&] { parse_json(deep_objects, "c.json"); }),
                       "nested deeper than 64"));
  // 63 levels are fine.
  EXPECT_TRUE(parse_json(std::string(63, '[') + std::string(63, ']'), "ok").is_array());
  EXPECT_TRUE(try_parse_json(deep_arrays).is_discarded());
  Json config = Json::object();
  EXPECT_TRUE(
      contains(user_error_message([&] { apply_override(config, "a.b=" + std::string(100, '[')); }),
               "--set a.b: the value nested deeper"));
}

TEST(Reliability, NumbersBeyondDoubleAreRejectedNamingTheKey) {
  EXPECT_EQ(
      user_error_message([] { parse_json("{\"s\": \"1e400\",\n \"seed\": 1e400}", "c.json"); }),
      "c.json:2: number 1e400 is beyond the range of a double (|x| < 1.8e308)");
  EXPECT_TRUE(contains(user_error_message([] { parse_json("[-1e309]", "c.json"); }),
                       "beyond the range of a double"));
  Json config = Json::object();
  EXPECT_TRUE(
      contains(user_error_message([&] { apply_override(config, "seed=1e400"); }), "--set seed"));
  // Invalid UTF-8 from the command line is refused, not thrown later by dump().
  EXPECT_TRUE(contains(user_error_message([&] { apply_override(config, "name=\xff\xfe"); }),
                       "not valid UTF-8"));
}

TEST(Reliability, MemoryCheckNamesWhatItWouldNeed) {
  const std::string m = user_error_message([] { check_memory("train.batch_size = 1e12", 8e12); });
  EXPECT_TRUE(contains(m, "train.batch_size = 1e12 needs at least 8.0 TB of memory")) << m;
  EXPECT_TRUE(contains(m, "this machine has")) << m;
  EXPECT_NO_THROW(check_memory("small", 1e6));
  EXPECT_EQ(format_bytes(125.8e9), "125.8 GB");
  EXPECT_EQ(format_bytes(512), "512 B");
}

TEST(Reliability, CheckpointEnvelopeDetectsDamage) {
  TempDir dir("anila_ckpt_env");
  const std::string path = dir / "last.pt";
  const std::string payload = "PK\x03\x04 pretend zip payload";
  io::write_checkpoint_file(path, payload);
  const std::string bytes = slurp(path);
  ASSERT_EQ(bytes.size(), payload.size() + io::kCheckpointHeaderSize);
  EXPECT_EQ(bytes.substr(0, 8), "ANILACK1");
  // Length and CRC, little-endian, as the header comment says.
  EXPECT_EQ(static_cast<uint8_t>(bytes[8]), payload.size());
  const uint32_t crc =
      uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(payload.data()), uInt(payload.size())));
  EXPECT_EQ(static_cast<uint8_t>(bytes[16]), crc & 0xff);
  EXPECT_EQ(io::read_checkpoint_file(path), payload);

  std::string flipped = bytes;
  flipped[30] ^= 0x10;
  EXPECT_TRUE(contains(user_error_message([&] { io::checkpoint_payload(flipped, path); }),
                       "is damaged: its checksum does not match"));
  EXPECT_TRUE(
      contains(user_error_message([&] { io::checkpoint_payload(bytes.substr(0, 30), path); }),
               "is truncated or damaged"));
  EXPECT_TRUE(contains(user_error_message([&] { io::checkpoint_payload("garbage", path); }),
                       "not an anila checkpoint"));
  EXPECT_EQ(io::checkpoint_payload(payload, path), payload);  // legacy bare zip
  EXPECT_TRUE(temporaries(dir.str()).empty());
}

// RLIMIT_FSIZE stands in for a full disk: writes past the limit fail (EFBIG)
// once SIGXFSZ is ignored.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit r = old_;
    r.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &r);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

TEST(Reliability, FailedCheckpointWriteKeepsThePreviousOne) {
  TempDir dir("anila_ckpt_full");
  const std::string path = dir / "last.pt";
  io::write_checkpoint_file(path, std::string(1000, 'a'));
  const std::string before = slurp(path);
  std::string message;
  {
    FileSizeLimit limit(4096);
    message =
        user_error_message([&] { io::write_checkpoint_file(path, std::string(100000, 'b')); });
  }
  EXPECT_TRUE(contains(message, "cannot write checkpoint " + path + ": File too large")) << message;
  EXPECT_EQ(slurp(path), before);
  EXPECT_TRUE(temporaries(dir.str()).empty());
}

TEST(Reliability, RunLockRefusesASecondHolderAndNamesThePid) {
  TempDir dir("anila_lock");
  {
    io::RunLock lock(dir.str());
    EXPECT_EQ(io::run_lock_holder(dir.str()), long(::getpid()));
    // A second open file description conflicts even within one process.
    const std::string m = user_error_message([&] { io::RunLock again(dir.str()); });
    EXPECT_EQ(m, "run folder " + dir.str() + " is in use by another anila process (pid " +
                     std::to_string(::getpid()) +
                     "); wait for it to finish or choose another --out");
  }
  EXPECT_NO_THROW(io::RunLock(dir.str()));  // released with its holder
}

// A PNG of w×h grey pixels with correct chunk CRCs.
std::string tiny_png(int w, int h) {
  auto be = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string td = type + data;
    const uint32_t crc =
        uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(td.data()), uInt(td.size())));
    return be(uint32_t(data.size())) + td + be(crc);
  };
  std::string raw;
  for (int y = 0; y < h; ++y) raw += '\0' + std::string(size_t(w), char(40 + y));
  uLongf n = compressBound(uLong(raw.size()));
  std::string z(n, '\0');
  ::compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(raw.data()),
             uLong(raw.size()));
  z.resize(n);
  const std::string ihdr = be(uint32_t(w)) + be(uint32_t(h)) + std::string{8, 0, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) +
         chunk("IEND", "");
}

TEST(Reliability, DamagedPngIsSkippedAndSaysWhy) {
  const std::string good = tiny_png(10, 10);
  EXPECT_EQ(data::internal::png_damage(reinterpret_cast<const uint8_t*>(good.data()), good.size()),
            "");
  std::string flipped = good;
  flipped[good.size() - 20] ^= 0x01;  // a byte inside IDAT
  EXPECT_EQ(
      data::internal::png_damage(reinterpret_cast<const uint8_t*>(flipped.data()), flipped.size()),
      "damaged (CRC mismatch in chunk IDAT)");
  TempDir dir("anila_png");
  spit(dir / "a.png", good);
  spit(dir / "b.png", flipped);
  auto f = data::internal::load_image_folder(dir.str(), 8, 1, 0, "data.path");
  EXPECT_EQ(f.images.size(0), 1);
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_TRUE(contains(f.warnings[0], "b.png: damaged (CRC mismatch in chunk IDAT)"))
      << f.warnings[0];
}

// Found by fuzz_image: a 127-byte BMP whose header claims 14862×12544 made the
// loader allocate 4.3 GB (stb_image fills what the file lacks).
TEST(Reliability, TinyBmpClaimingAHugeImageIsSkipped) {
  auto le32 = [](uint32_t v) {
    return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  };
  const std::string bmp = "BM" + le32(127) + le32(0) + le32(54) + le32(40) + le32(14862) +
                          le32(12544) + std::string{1, 0, 24, 0} + le32(0) + le32(0) + le32(2835) +
                          le32(2835) + le32(0) + le32(0) + std::string(73, '\xc9');
  TempDir dir("anila_bmp");
  spit(dir / "huge.bmp", bmp);
  spit(dir / "ok.png", tiny_png(10, 10));
  auto f = data::internal::load_image_folder(dir.str(), 8, 1, 0, "data.path");
  EXPECT_EQ(f.images.size(0), 1);
  ASSERT_EQ(f.warnings.size(), 1u);
  EXPECT_TRUE(contains(f.warnings[0], "huge.bmp: 14862×12544 is larger than 8192×8192"))
      << f.warnings[0];
}

TEST(Reliability, SymlinkLoopInAnImageFolderLoadsEachImageOnce) {
  TempDir dir("anila_loop");
  fs::create_directories(dir / "sub");
  spit(dir / "sub/a.png", tiny_png(10, 10));
  fs::create_directory_symlink("..", dir / "sub/loop");      // sub/loop -> the folder itself
  fs::create_directory_symlink(dir / "sub", dir / "again");  // a second name for sub
  auto f = data::internal::load_image_folder(dir.str(), 8, 1, 0, "data.path");
  EXPECT_EQ(f.images.size(0), 1);
}

TEST(Reliability, IdxHeaderOverflowNamesFileAndFields) {
  TempDir dir("anila_idx");
  const std::string file = dir / "train-images-idx3-ubyte";
  spit(file, std::string("\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16) +
                 std::string(100, 'x'));
  const std::string m =
      user_error_message([&] { data::internal::read_idx(file, "train", "data.path"); });
  EXPECT_TRUE(contains(m, file + ": header says 4294967295 images of 4294967295×4294967295 "
                                 "(count × rows × cols = 7922816"))
      << m;
  EXPECT_TRUE(contains(m, "the file holds only 100 bytes of pixels")) << m;
}

TEST(Reliability, CsvValueBeyondFloat32IsBadDataAtFileLine) {
  TempDir dir("anila_csv");
  spit(dir / "p.csv", "x,y\n1,2\n1e300,3\n");
  const std::string m = user_error_message([&] { data::internal::read_points_csv(dir / "p.csv"); });
  EXPECT_EQ(m,
            dir / "p.csv" + ":3: \"1e300,3\" is beyond float32 (values must satisfy |x| < 3.4e38)");
}

TEST(Reliability, MetricsLogDropsRowsAfterTheCheckpointAndFinalRows) {
  TempDir dir("anila_metrics");
  spit(dir / "metrics.jsonl",
       "{\"iteration\":5,\"loss\":1}\n{\"iteration\":10,\"loss\":2}\n{\"iteration\":10,\"kl\":3}\n"
       "{\"iteration\":15,\"loss\":4}\n{\"iter");
  io::MetricsLog log(dir.str(), {"iteration", "loss", "kl"}, /*resume=*/true, /*keep_until=*/10);
  EXPECT_EQ(slurp(dir / "metrics.jsonl"),
            "{\"iteration\":5,\"loss\":1}\n{\"iteration\":10,\"loss\":2}\n");
  EXPECT_EQ(slurp(dir / "metrics.csv"), "iteration,loss,kl\n5,1,\n10,2,\n");
}

// ---- the bad-input catalogue (CLI) -------------------------------------------------

class BadInputCli : public ::testing::Test {
 protected:
  TempDir dir_{"anila_bad"};
  // Exit 2, one line naming `culprit`, no crash output, and `out` not created.
  void expect_user_error(const std::string& args, const std::string& culprit,
                         const std::string& out = "") {
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, "anila: error: ")) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, culprit)) << args << "\n" << r.output;
    EXPECT_EQ(lines(r.output), 1) << args << "\n" << r.output;
    EXPECT_FALSE(crash_output(r.output)) << args << "\n" << r.output;
    if (!out.empty()) EXPECT_FALSE(fs::exists(out)) << args;
  }
};

TEST_F(BadInputCli, ConfigFiles) {
  const std::string out = dir_ / "out";
  spit(dir_ / "arrays.json", std::string(100000, '[') + std::string(100000, ']'));
  expect_user_error("train --config " + (dir_ / "arrays.json") + " --out " + out,
                    "arrays.json: nested deeper than 64 levels", out);
  std::string objects;
  for (int i = 0; i < 1000000; ++i) objects += "{\"a\":";
  spit(dir_ / "objects.json", objects);
  expect_user_error("train --config " + (dir_ / "objects.json") + " --out " + out,
                    "objects.json: nested deeper", out);
  spit(dir_ / "seed.json", R"({"seed": 1e400})");
  expect_user_error("train --config " + (dir_ / "seed.json") + " --out " + out,
                    "seed.json:1: number 1e400 is beyond the range of a double", out);
}

TEST_F(BadInputCli, SizesCheckedAgainstMemoryBeforeAllocating) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "out";
  const std::string train = "train --config " + cfg + " --out " + out + " ";
  expect_user_error(
      train + "--set train.batch_size=1000000000000 --set chains.bank_size=1000000000000",
      "train.batch_size = 1000000000000 (2 values each) needs at least", out);
  expect_user_error(train + "--set chains.bank_size=1000000000000",
                    "chains.bank_size = 1000000000000 (2 values each) needs at least", out);
  expect_user_error(train + "--set eval.samples=1000000000000", "eval.samples = 1000000000000",
                    out);
  expect_user_error("sample --target gaussian --dim 1000000000 --out " + out,
                    "--dim 1000000000 needs", out);
  expect_user_error("sample --target gaussian --dim 1e9 --out " + out, "--dim = 1e9", out);
  expect_user_error("sample --target gaussian --chains 1000000000 --out " + out,
                    "--chains 1000000000 × 2 dimensions needs", out);
}

TEST_F(BadInputCli, DataFiles) {
  const std::string out = dir_ / "out";
  const std::string idx = dir_ / "train-images-idx3-ubyte";
  spit(idx, std::string("\x00\x00\x08\x03\xff\xff\xff\xff\x00\x01\x00\x00\x00\x01\x00\x00", 16));
  // Image configs with an image model: a config mistake would be reported first.
  spit(dir_ / "idx.json",
       R"({"model": {"type": "convnet"}, "data": {"type": "idx", "path": ")" + idx + R"("}})");
  expect_user_error("train --config " + (dir_ / "idx.json") + " --out " + out,
                    idx +
                        ": header says 4294967295 images of 65536×65536 (count × rows × cols = "
                        "18446744069414584320 bytes)",
                    out);
  test::write_idx_images(idx, 4);
  spit(dir_ / "size.json",
       R"({"data": {"type": "idx", "size": 100000, "path": ")" + idx + R"("}})");
  expect_user_error("train --config " + (dir_ / "size.json") + " --out " + out,
                    "data.size = 100000", out);
  spit(dir_ / "p.csv", "1,2\n3,4\n1e300,5\n");
  spit(dir_ / "csv.json", R"({"data": {"type": "csv", "path": ")" + (dir_ / "p.csv") + R"("}})");
  expect_user_error("train --config " + (dir_ / "csv.json") + " --out " + out,
                    (dir_ / "p.csv") + ":3: \"1e300,5\" is beyond float32", out);
  fs::create_directories(dir_ / "pngs");
  std::string png = tiny_png(10, 10);
  png[png.size() - 20] ^= 1;
  spit(dir_ / "pngs/only.png", png);
  spit(dir_ / "png.json",
       R"({"model": {"type": "resnet"}, "data": {"type": "image_folder", "size": 8, "path": ")" +
           (dir_ / "pngs") + R"("}})");
  expect_user_error("train --config " + (dir_ / "png.json") + " --out " + out,
                    "only.png: damaged (CRC mismatch in chunk IDAT)", out);
}

TEST_F(BadInputCli, CommandLineValues) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "out";
  expect_user_error("sample --target gaussian --dim 0 --out " + out, "--dim: must be >= 1, got 0",
                    out);
  expect_user_error("sample --target gaussian --dim -3 --out " + out, "--dim: must be >= 1, got -3",
                    out);
  expect_user_error("sample --target gaussian --store-dims -1 --out " + out,
                    "--store-dims: must be >= 1, got -1", out);
  expect_user_error("compare --config " + cfg + " --jobs -1 --out " + out,
                    "--jobs: must be >= 1 (or 0 for one per core), got -1", out);
  expect_user_error("train --config " + cfg + " --out \"\"", "--out: must not be empty");
  expect_user_error("train --config " + cfg + " --out " + out +
                        " --set train.lr_schedule.type=cosine --set train.lr_schedule.min_lr=0.1",
                    "train.lr_schedule.min_lr: must be <= train.optimizer.lr (0.001)", out);
  expect_user_error(
      "train --config " + cfg + " --out " + out + " --set train.lr_schedule.type=warmup",
      "unknown value \"warmup\"; allowed: constant, cosine, step, linear", out);
  expect_user_error("trian --config " + cfg, "unknown command 'trian' (did you mean train?)");
}

// Skipped or damaged dataset files are reported on stderr (they were collected
// and never shown).
TEST_F(BadInputCli, DatasetWarningsArePrinted) {
  fs::create_directories(dir_ / "pngs");
  std::string png = tiny_png(16, 16);
  spit(dir_ / "pngs/good.png", png);
  png[png.size() - 20] ^= 1;
  spit(dir_ / "pngs/bad.png", png);
  spit(dir_ / "img.json",
       R"({"data": {"type": "image_folder", "size": 28, "channels": 1, "path": ")" +
           (dir_ / "pngs") + R"("},
      "model": {"type": "convnet", "n_f": 4}, "chains": {"type": "noise"},
      "sampler": {"type": "langevin", "step_size": 1.0, "noise_scale": 0.01},
      "train": {"iterations": 1, "batch_size": 4, "mcmc_steps": 2}, "eval": {"every": 0, "samples": 4}})");
  const Result r = run("train --config " + (dir_ / "img.json") + " --out " + (dir_ / "run"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "anila: warning: skipped 1 files in " + (dir_ / "pngs") +
                                     " (first: bad.png: damaged (CRC mismatch in chunk IDAT))"))
      << r.output;
}

TEST_F(BadInputCli, DamagedCheckpointIsRefused) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "run";
  ASSERT_EQ(
      run("train --quiet --config " + cfg + " --out " + out + " --set train.iterations=5").code, 0);
  std::string bytes = slurp(out + "/checkpoints/last.pt");
  bytes[bytes.size() / 2] ^= 0x04;  // inside a tensor or the zip directory
  spit(out + "/checkpoints/last.pt", bytes);
  expect_user_error("eval --checkpoint " + out + " --n 8", "checksum does not match");
  expect_user_error("train --resume " + out, "checksum does not match");
}

TEST_F(BadInputCli, CompareWhereEveryRunDivergedExitsThree) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "cmp";
  const Result r = run("compare --quiet --config " + cfg + " --samplers langevin --out " + out +
                       " --set train.optimizer.type=sgd --set train.optimizer.lr=1e30");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_TRUE(contains(r.output, "every run of the comparison diverged (1 runs)")) << r.output;
  EXPECT_FALSE(crash_output(r.output)) << r.output;
}

// ---- interruption ---------------------------------------------------------------------

class Interruption : public ::testing::Test {
 protected:
  TempDir dir_{"anila_kill"};
};

TEST_F(Interruption, ResumingAFinishedRunChangesNothing) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "run";
  ASSERT_EQ(run("train --quiet --config " + cfg + " --out " + out).code, 0);
  const std::string jsonl = slurp(out + "/metrics.jsonl"), csv = slurp(out + "/metrics.csv");
  const Result r = run("train --resume " + out);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "already complete (40 iterations); nothing to do")) << r.output;
  EXPECT_EQ(slurp(out + "/metrics.jsonl"), jsonl);
  EXPECT_EQ(slurp(out + "/metrics.csv"), csv);
}

TEST_F(Interruption, KilledBeforeItsFirstCheckpointRestartsWithoutForce) {
  const std::string cfg = tiny_config(dir_, R"(, "train": {"iterations": 100000, "batch_size": 50,
      "mcmc_steps": 5, "log_every": 5, "checkpoint_every": 100000})");
  const std::string out = dir_ / "run";
  const pid_t pid = spawn("train --quiet --config " + cfg + " --out " + out, dir_ / "log");
  ASSERT_TRUE(wait_for([&] { return slurp(out + "/metrics.jsonl").size() > 0; }));
  ::kill(pid, SIGKILL);
  reap(pid);
  const Result resume = run("train --resume " + out);
  EXPECT_EQ(resume.code, 2);
  EXPECT_TRUE(contains(resume.output,
                       "the run stopped before its first checkpoint; start it "
                       "again with anila train --config " +
                           out + "/config.json --out " + out))
      << resume.output;
  const Result again = run("train --config " + out + "/config.json --out " + out +
                           " --set train.iterations=10 --set train.checkpoint_every=5");
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_TRUE(contains(again.output, "stopped before its first checkpoint; starting it again"));
  EXPECT_TRUE(fs::exists(out + "/summary.json"));
}

// kill -9 at several points (during iterations and during the checkpoint
// writes of checkpoint_every = 1), each time resumed; the arrays and metrics
// rows are the same bytes as one uninterrupted run's.
TEST_F(Interruption, KillNineAnywhereThenResumeIsByteIdentical) {
  const std::string extra = R"(, "train": {"iterations": 60, "batch_size": 50, "mcmc_steps": 5,
      "log_every": 5, "checkpoint_every": 1, "optimizer": {"type": "adam", "lr": 1e-3}})";
  const std::string cfg = tiny_config(dir_, extra);
  const std::string ref = dir_ / "ref", out = dir_ / "run";
  ASSERT_EQ(run("train --quiet --config " + cfg + " --out " + ref).code, 0);

  const std::string ckpt = out + "/checkpoints/last.pt";
  auto stamp = [&] {
    std::error_code ec;
    return fs::last_write_time(ckpt, ec);
  };
  pid_t pid = spawn("train --quiet --config " + cfg + " --out " + out, dir_ / "log");
  int kills = 0;
  for (int delay_ms : {0, 7, 23, 41}) {
    // Wait for a new checkpoint from this process, then a little more: the
    // kill lands in an iteration or inside a checkpoint write.
    const auto before = stamp();
    if (!wait_for([&] { return fs::exists(ckpt) && stamp() != before; })) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    kills += reap(pid) == -SIGKILL;
    pid = -1;
    if (fs::exists(out + "/summary.json")) break;
    pid = spawn("train --quiet --resume " + out, dir_ / "log");
  }
  if (pid > 0) EXPECT_EQ(reap(pid), 0) << slurp(dir_ / "log");
  if (!fs::exists(out + "/summary.json")) {
    const Result last = run("train --quiet --resume " + out);
    ASSERT_EQ(last.code, 0) << last.output;
  }
  EXPECT_GE(kills, 2);
  // (last.pt itself holds object addresses in LibTorch's pickle; its tensors
  // show in the arrays.)
  EXPECT_TRUE(slurp(out + "/samples.npy") == slurp(ref + "/samples.npy"));
  EXPECT_TRUE(slurp(out + "/log_density.npy") == slurp(ref + "/log_density.npy"));
  EXPECT_EQ(metrics_without_timing(out), metrics_without_timing(ref));
  EXPECT_TRUE(temporaries(out).empty());  // stale temporaries are cleared on resume
}

// A full disk (RLIMIT_FSIZE) while the results are written after training:
// one line, the folder and its checkpoint kept, and --resume finishes it.
TEST_F(Interruption, FullDiskAfterTrainingKeepsTheCheckpoint) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "run";
  // The checkpoint (29 KB) fits in 40 KB; log_density.npy on a 128² grid (131 KB) does not.
  Result r;
  r.code =
      reap(spawn("train --quiet --config " + cfg + " --out " + out + " --set eval.resolution=128",
                 dir_ / "log", 40000));
  r.output = slurp(dir_ / "log");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "File too large")) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "keeps its last checkpoint: fix the cause and run anila train "
                       "--resume " +
                           out))
      << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_FALSE(crash_output(r.output)) << r.output;
  EXPECT_TRUE(fs::exists(out + "/checkpoints/last.pt"));
  EXPECT_TRUE(temporaries(out).empty());
  const Result resumed = run("train --quiet --resume " + out);
  EXPECT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_TRUE(fs::exists(out + "/figure.png"));
}

// A full disk at the first checkpoint: one line, no stack trace, nothing left.
TEST_F(Interruption, FullDiskAtTheFirstCheckpointLeavesNoFolder) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "run";
  // config.json and the metrics fit in 4 KB; the first checkpoint does not.
  Result r;
  r.code = reap(spawn("train --quiet --config " + cfg + " --out " + out, dir_ / "log", 4096));
  r.output = slurp(dir_ / "log");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "cannot write checkpoint " + out + "/checkpoints/last.pt"))
      << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_FALSE(crash_output(r.output)) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

// ---- concurrency ----------------------------------------------------------------------

TEST(Concurrency, SecondWriterForceAndResumeAreRefusedWhileARunHoldsTheFolder) {
  TempDir dir("anila_two");
  const std::string cfg = tiny_config(dir, R"(, "train": {"iterations": 100000, "batch_size": 50,
      "mcmc_steps": 5, "log_every": 5, "checkpoint_every": 5})");
  const std::string out = dir / "run";
  const pid_t pid = spawn("train --quiet --config " + cfg + " --out " + out, dir / "log");
  ASSERT_TRUE(wait_for([&] { return fs::exists(out + "/checkpoints/last.pt"); }));
  const std::string holder = "is in use by another anila process (pid " + std::to_string(pid) + ")";
  for (const std::string& args :
       {"train --config " + cfg + " --out " + out,
        "train --config " + cfg + " --out " + out + " --force", "train --resume " + out}) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, holder)) << args << "\n" << r.output;
    EXPECT_EQ(lines(r.output), 1) << r.output;
  }
  EXPECT_TRUE(fs::exists(out + "/checkpoints/last.pt"));  // the running run is untouched
  // kill -9 leaves the lock file; the next run takes it over.
  ::kill(pid, SIGKILL);
  reap(pid);
  EXPECT_TRUE(fs::exists(out + "/" + io::kRunLockName));
  const Result forced =
      run("train --quiet --config " + cfg + " --out " + out + " --force --set train.iterations=5");
  EXPECT_EQ(forced.code, 0) << forced.output;
}

TEST(Concurrency, TwoRunsStartedTogetherOneWinsNothingLost) {
  TempDir dir("anila_race");
  const std::string cfg = tiny_config(dir, R"(, "train": {"iterations": 20, "batch_size": 50,
      "mcmc_steps": 5, "log_every": 5, "checkpoint_every": 5})");
  const std::string out = dir / "run";
  const pid_t a = spawn("train --quiet --config " + cfg + " --out " + out, dir / "a.log");
  const pid_t b = spawn("train --quiet --config " + cfg + " --out " + out, dir / "b.log");
  const int ca = reap(a), cb = reap(b);
  // One finishes; the other is refused (in use, or already exists if it came late).
  EXPECT_EQ(std::min(ca, cb), 0) << slurp(dir / "a.log") << slurp(dir / "b.log");
  EXPECT_EQ(std::max(ca, cb), 2) << slurp(dir / "a.log") << slurp(dir / "b.log");
  const std::string loser = slurp(ca == 2 ? dir / "a.log" : dir / "b.log");
  EXPECT_TRUE(contains(loser, "in use by another anila process") ||
              contains(loser, "already exists"))
      << loser;
  EXPECT_EQ(Json::parse(slurp(out + "/summary.json"))["status"], "completed");
  EXPECT_TRUE(temporaries(out).empty());
}

}  // namespace
}  // namespace anila
