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
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
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

// `text` without its "anila: warning: " lines (a run may warn, e.g. of its eval grid,
// before the error line a test counts).
std::string without_warnings(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("anila: warning: ", 0) != 0) out += line + "\n";
  return out;
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
  const std::string cmd = "exec " + test::anila_binary() + " " + args + " >" + log + " 2>&1";
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
  const std::string payload = "{\"pretend\": \"payload\"}\n";
  io::write_checkpoint_file(path, payload);
  const std::string bytes = slurp(path);
  ASSERT_EQ(bytes.size(), payload.size() + io::kCheckpointHeaderSize);
  EXPECT_EQ(bytes.substr(0, 8), "ANILACK2");
  // Length and CRC, little-endian, as the header comment says.
  EXPECT_EQ(static_cast<uint8_t>(bytes[8]), payload.size());
  const uint32_t crc =
      uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(payload.data()), uInt(payload.size())));
  EXPECT_EQ(static_cast<uint8_t>(bytes[16]), crc & 0xff);
  EXPECT_EQ(io::read_checkpoint_file(path).bytes, payload);
  EXPECT_EQ(io::read_checkpoint_file(path).format, io::CheckpointFormat::anila);

  std::string flipped = bytes;
  flipped[30] ^= 0x10;
  EXPECT_TRUE(contains(user_error_message([&] { io::checkpoint_payload(flipped, path); }),
                       "is damaged: its checksum does not match"));
  EXPECT_TRUE(
      contains(user_error_message([&] { io::checkpoint_payload(bytes.substr(0, 30), path); }),
               "is truncated or damaged"));
  EXPECT_TRUE(contains(user_error_message([&] { io::checkpoint_payload("garbage", path); }),
                       "not an anila checkpoint"));
  const std::string zip = "PK\x03\x04 pretend zip";  // before the envelope: LibTorch's zip
  EXPECT_EQ(io::checkpoint_payload(zip, path).format, io::CheckpointFormat::libtorch_zip);
  std::string old = bytes;  // the ANILACK1 envelope (around LibTorch's zip) is still checked
  old[7] = '1';
  EXPECT_EQ(io::checkpoint_payload(old, path).format, io::CheckpointFormat::libtorch_zip);
  old[30] ^= 0x10;
  EXPECT_TRUE(contains(user_error_message([&] { io::checkpoint_payload(old, path); }),
                       "is damaged: its checksum does not match"));
  EXPECT_TRUE(temporaries(dir.str()).empty());
}

// A small archive with one value of every kind the format stores.
torch::serialize::OutputArchive every_kind() {
  torch::serialize::OutputArchive root, model(root.compilation_unit());
  model.write("weight", at::tensor({1.5f, -2.0f}));
  model.write("flags", at::tensor({1, 0}).to(at::kBool), /*is_buffer=*/true);
  root.write("model", model);
  root.write("iteration", at::tensor(int64_t(7)));
  root.write("rng", at::arange(5, at::kByte));
  root.write("empty", at::zeros({0, 3}, at::kDouble));
  root.write("count", c10::IValue(int64_t(-3)));
  root.write("lr", c10::IValue(0.1));
  root.write("nan", c10::IValue(std::nan("")));
  root.write("on", c10::IValue(true));
  root.write("name", c10::IValue(std::string("1.5.0")));
  root.write("keys", c10::IValue(c10::List<std::string>({"a", "b"})));
  root.write("betas", c10::IValue(c10::ivalue::Tuple::create({0.9, 0.999})));
  return root;
}

TEST(Reliability, CheckpointFormatStoresEveryKindAsItsHeaderSays) {
  torch::serialize::OutputArchive root = every_kind();
  const std::string payload = io::encode_checkpoint(root);
  const size_t eol = payload.find('\n');
  ASSERT_NE(eol, std::string::npos);
  const Json header = Json::parse(payload.substr(0, eol));
  EXPECT_EQ(header["format"], "anila-checkpoint");
  EXPECT_EQ(header["version"], 1);
  // 2 float32 + 2 bool + 1 int64 + 5 uint8 + 0 float64 = 8 + 2 + 8 + 5 bytes.
  EXPECT_EQ(header["data_bytes"], 23);
  ASSERT_EQ(payload.size(), eol + 1 + 23);
  const std::string data = payload.substr(eol + 1);
  EXPECT_EQ(data.substr(0, 8), std::string("\x00\x00\xc0\x3f\x00\x00\x00\xc0", 8));  // 1.5f, -2.0f
  EXPECT_EQ(data.substr(8, 2), std::string("\x01\x00", 2));
  EXPECT_EQ(data.substr(10, 8), std::string("\x07\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(data.substr(18, 5), std::string("\x00\x01\x02\x03\x04", 5));
  const std::string h = header.dump();
  EXPECT_TRUE(contains(h, R"({"path":["model"]})") ||
              contains(h, R"("archive":true,"path":["model"])"))
      << h;
  EXPECT_TRUE(contains(h, R"("path":["model","weight"],"shape":[2],"tensor":"float32")")) << h;
  EXPECT_TRUE(contains(h, R"("double":"nan")")) << h;
  EXPECT_TRUE(contains(h, R"("tuple":[{"double":0.9},{"double":0.999}])")) << h;

  torch::serialize::InputArchive in, model;
  io::decode_checkpoint(payload, in, c10::Device(c10::kCPU), "x.pt");
  in.read("model", model);
  at::Tensor w, flags, it, rng, empty;
  model.read("weight", w);
  model.read("flags", flags, /*is_buffer=*/true);
  in.read("iteration", it);
  in.read("rng", rng);
  in.read("empty", empty);
  EXPECT_TRUE(w.equal(at::tensor({1.5f, -2.0f})));
  EXPECT_TRUE(flags.equal(at::tensor({1, 0}).to(at::kBool)));
  EXPECT_EQ(it.item<int64_t>(), 7);
  EXPECT_TRUE(rng.equal(at::arange(5, at::kByte)));
  EXPECT_EQ(empty.sizes().vec(), (std::vector<int64_t>{0, 3}));
  c10::IValue v;
  in.read("count", v);
  EXPECT_EQ(v.toInt(), -3);
  in.read("lr", v);
  EXPECT_EQ(v.toDouble(), 0.1);
  in.read("nan", v);
  EXPECT_TRUE(std::isnan(v.toDouble()));
  in.read("on", v);
  EXPECT_TRUE(v.toBool());
  in.read("name", v);
  EXPECT_EQ(v.toStringRef(), "1.5.0");
  in.read("keys", v);
  EXPECT_EQ(v.toList().size(), 2u);
  in.read("betas", v);
  EXPECT_EQ(v.toTupleRef().elements().at(1).toDouble(), 0.999);
}

// Each damage to the header is refused naming what is wrong, before any tensor
// is allocated (a shape larger than the file is refused, never allocated).
TEST(Reliability, CheckpointParserRefusesEachBadHeader) {
  const std::string w = R"({"path":["w"],"tensor":"float32","shape":[2],"offset":0})";
  auto payload = [](const std::string& entries, int data_bytes, const std::string& data = "") {
    return R"({"format":"anila-checkpoint","version":1,"data_bytes":)" +
           std::to_string(data_bytes) + R"(,"entries":[)" + entries + "]}\n" + data;
  };
  const std::string eight(8, '\0');
  auto refused = [](const std::string& p) {
    torch::serialize::InputArchive in;
    return user_error_message(
        [&] { io::decode_checkpoint(p, in, c10::Device(c10::kCPU), "c.pt"); });
  };
  torch::serialize::InputArchive in;
  EXPECT_NO_THROW(io::decode_checkpoint(payload(w, 8, eight), in, c10::Device(c10::kCPU), "c.pt"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no newline", "no header line"},
      {"{]\n", "not an anila checkpoint: header: invalid JSON"},
      {std::string(100, '[') + std::string(100, ']') + "\n", "nested deeper than 64"},
      {R"({"format":"zip","version":1})"
       "\n",
       "does not say \"format\""},
      {R"({"format":"anila-checkpoint","version":9})"
       "\n",
       "format version 9"},
      {payload(w, 9, eight + "x"), "its tensors hold 8 bytes of the 9"},
      {payload(w, 4, "1234"), "needs more bytes than the file holds"},
      {payload(
           R"({"path":["w"],"tensor":"float32","shape":[1099511627776,1099511627776],"offset":0})",
           8, eight),
       "needs more bytes than the file holds"},
      {payload(R"({"path":["w"],"tensor":"float32","shape":[-2],"offset":0})", 8, eight),
       "shape size -2"},
      {payload(R"({"path":["w"],"tensor":"complex64","shape":[1],"offset":0})", 8, eight),
       "unknown dtype"},
      {payload(R"({"path":["w"],"tensor":"float32","shape":[2],"offset":4})", 8, eight),
       "offset 4, expected 0"},
      {payload(R"({"path":["a\"b"],"int":1})", 0), "key \"a\\\"b\""},
      {payload(R"({"path":["training"],"int":1})", 0), "not \"training\""},
      {payload(R"({"path":["m","w"],"int":1})", 0),
       "its parent m is not an archive declared before it"},
      {payload(R"({"path":["n"],"int":1},{"path":["n"],"int":2})", 0), "key n appears twice"},
      {payload(R"({"path":["n"],"int":1,"bool":true})", 0), "holds both bool and int"},
      {payload(R"({"path":["n"]})", 0), "holds no value"},
      {payload(R"({"path":["n"],"ints":[1,"x"]})", 0), "bad element \"x\" in ints"},
      {payload(R"({"path":["n"],"tuple":[{"tensor":1}]})", 0), "bad tuple element"},
      {payload(R"({"path":["b"],"tensor":"bool","shape":[2],"offset":0})", 2, "\x01\x02"),
       "bool tensor b holds a value other than 0 or 1"},
  };
  for (const auto& [bad, why] : cases) {
    const std::string m = refused(bad);
    EXPECT_TRUE(contains(m, "checkpoint c.pt")) << bad << "\n" << m;
    EXPECT_TRUE(contains(m, why)) << bad << "\n" << m;
  }
}

// A crafted header of many archives and many entries under the last one: each
// entry finds its parent by path (a map; it used to scan its parent's
// siblings, n² for this shape: hours at the 16 MiB header limit). Refused for
// its data size after every entry was read.
TEST(Reliability, CheckpointParserReadsManyEntriesUnderOneParent) {
  std::string entries;
  const int n = 100000;
  for (int i = 0; i < n; ++i)
    entries += R"({"path":["k)" + std::to_string(i) + R"("],"archive":true},)";
  for (int i = 0; i < n; ++i) {
    entries += R"({"path":["k)" + std::to_string(n - 1) + R"(","v)" + std::to_string(i) +
               R"("],"int":1})" + (i + 1 < n ? "," : "");
  }
  const std::string payload =
      R"({"format":"anila-checkpoint","version":1,"data_bytes":1,"entries":[)" + entries + "]}\n" +
      "x";
  torch::serialize::InputArchive in;
  const std::string m = user_error_message(
      [&] { io::decode_checkpoint(payload, in, c10::Device(c10::kCPU), "big.pt"); });
  EXPECT_TRUE(contains(m, "its tensors hold 0 bytes of the 1 after the header")) << m;
}

// LibTorch's zip archive, as anila wrote checkpoints before its own format.
std::string libtorch_zip() {
  torch::serialize::OutputArchive root = every_kind();
  std::ostringstream zip;
  root.save_to(zip);
  return zip.str();
}

TEST(Reliability, OldLibTorchCheckpointsLoadOnlyOnTheUsersWord) {
  TempDir dir("anila_ckpt_old");
  const std::string path = dir / "last.pt", zip = libtorch_zip();
  std::string envelope = io::checkpoint_header(zip);
  envelope[7] = '1';  // ANILACK1: the old envelope, same CRC
  spit(path, envelope + zip);
  ::unsetenv(io::kTrustOldCheckpointsEnv);
  torch::serialize::InputArchive in;
  const std::string m =
      user_error_message([&] { io::read_checkpoint(path, in, c10::Device(c10::kCPU)); });
  EXPECT_TRUE(contains(m, "checkpoint " + path + " is in the old LibTorch format")) << m;
  EXPECT_TRUE(contains(m, "ANILA_TRUST_OLD_CHECKPOINTS=1")) << m;
  ::setenv(io::kTrustOldCheckpointsEnv, "1", 1);
  EXPECT_NO_THROW(io::read_checkpoint(path, in, c10::Device(c10::kCPU)));
  at::Tensor it;
  in.read("iteration", it);
  EXPECT_EQ(it.item<int64_t>(), 7);
  ::unsetenv(io::kTrustOldCheckpointsEnv);
}

// The crafted file that crashed anila: LibTorch 1.13 takes "__parapeters__ = [...]"
// in an archive's class code for a class constant and segfaults parsing it
// (ScriptTypeParser::parseClassConstant). In a valid envelope it is now refused
// without LibTorch ever reading it; in the new envelope it is not anila's format.
std::string crafted_libtorch_zip() {
  std::string zip = libtorch_zip();
  const size_t at = zip.find("__parameters__");
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) zip[at + 6] = 'p';  // stored, unchecked: miniz reads it as is
  return zip;
}

TEST(Reliability, CraftedCheckpointThatCrashedLibTorchIsRefused) {
  TempDir dir("anila_ckpt_crafted");
  const std::string path = dir / "last.pt", zip = crafted_libtorch_zip();
  std::string old = io::checkpoint_header(zip);
  old[7] = '1';
  spit(path, old + zip);
  ::unsetenv(io::kTrustOldCheckpointsEnv);
  torch::serialize::InputArchive in;
  EXPECT_TRUE(
      contains(user_error_message([&] { io::read_checkpoint(path, in, c10::Device(c10::kCPU)); }),
               "is in the old LibTorch format"));
  io::write_checkpoint_file(path, zip);  // ANILACK2 around LibTorch's bytes
  EXPECT_TRUE(
      contains(user_error_message([&] { io::read_checkpoint(path, in, c10::Device(c10::kCPU)); }),
               "is damaged or not an anila checkpoint"));
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

// The lock file records "PID HOST": a holder on another host is respected
// whatever flock says (flock may be local to each NFS client); one on this host
// is stale when the flock is free or, without flock, when its pid is gone.
TEST(Reliability, RunLockRecordRespectsOtherHostsAndDetectsStaleOnesHere) {
  TempDir dir("anila_lock_host");
  const std::string file = dir / io::kRunLockName;
  char name[256] = {0};
  ::gethostname(name, sizeof(name) - 1);
  const std::string here = name;
  {
    io::RunLock lock(dir.str());
    EXPECT_EQ(io::run_lock_record(dir.str()).host, here);
    EXPECT_EQ(slurp(file), std::to_string(::getpid()) + " " + here + "\n");
  }
  EXPECT_EQ(io::run_lock_record(dir.str()).pid, 0);  // a normal end clears the record

  spit(file, "4242 other-host\n");
  for (bool use_flock : {true, false}) {
    const std::string m = user_error_message([&] { io::RunLock lock(dir.str(), use_flock); });
    EXPECT_TRUE(contains(m, "in use by another anila process (pid 4242 on host other-host)")) << m;
    EXPECT_TRUE(contains(m, "if it no longer runs on other-host, remove " + file)) << m;
  }

  const pid_t child = ::fork();  // a pid that has just exited
  if (child == 0) ::_exit(0);
  reap(child);
  for (bool use_flock : {true, false}) {
    spit(file, std::to_string(child) + " " + here + "\n");
    EXPECT_NO_THROW(io::RunLock(dir.str(), use_flock)) << use_flock;
  }
  const std::string live = std::to_string(::getppid());  // alive, and not holding the flock
  spit(file, live + "\n");                               // the older "PID" record: this host
  EXPECT_EQ(io::run_lock_record(dir.str()).host, here);
  EXPECT_NO_THROW(io::RunLock(dir.str()));  // the free flock says its holder is gone
  spit(file, live + " " + here + "\n");
  EXPECT_TRUE(contains(user_error_message([&] { io::RunLock lock(dir.str(), false); }),
                       "in use by another anila process (pid " + live + ")"));
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

// Found by fuzz_image (a slow input): a 63-byte BMP whose header claims an
// image within 8192×8192 was decoded in full, stb_image filling what the file
// lacks (14 s under ASan). Headers may claim no more pixels than the file could
// encode at its format's densest; the file is skipped, named, before decoding.
TEST(Reliability, TinyFilesClaimingMorePixelsThanTheyHoldAreSkipped) {
  auto le32 = [](uint32_t v) {
    return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  };
  const std::string bmp = "BM" + le32(63) + le32(0) + le32(54) + le32(40) + le32(4096) +
                          le32(4096) + std::string{1, 0, 24, 0} + le32(0) + le32(0) + le32(2835) +
                          le32(2835) + le32(0) + le32(0) + std::string(9, '\x7f');
  ASSERT_EQ(bmp.size(), 63u);
  // SOI, then a baseline frame header: 8 bits, 4000×4000, one component.
  const std::string jpeg("\xff\xd8\xff\xc0\x00\x0b\x08\x0f\xa0\x0f\xa0\x01\x01\x11\x00", 15);
  std::string png = tiny_png(10, 10);  // its IHDR made to claim 6000×6000, CRC fixed
  png.replace(16, 8, std::string("\x00\x00\x17\x70\x00\x00\x17\x70", 8));
  const uint32_t crc = uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 17));
  png.replace(29, 4, std::string{char(crc >> 24), char(crc >> 16), char(crc >> 8), char(crc)});
  const std::string gif = "GIF89a" + std::string("\x0a\x00\x0a\x00\x00\x00\x00", 7) + ";";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"x.bmp",
       "x.bmp: header claims 4096×4096 pixels, more than a 63-byte BMP can hold (at most "
       "504): truncated or damaged"},
      {"x.jpg",
       "x.jpg: header claims 4000×4000 pixels, more than a 15-byte JPEG can hold (at "
       "most 7680)"},
      {"x.png", "x.png: header claims 6000×6000 pixels, more than a " + std::to_string(png.size()) +
                    "-byte PNG"},
      {"gif.jpg", "gif.jpg: not a PNG, JPEG or BMP file (unknown signature)"},
  };
  const std::vector<std::string> bytes = {bmp, jpeg, png, gif};
  for (size_t i = 0; i < cases.size(); ++i) {
    TempDir dir("anila_claims");
    spit(dir / cases[i].first, bytes[i]);
    spit(dir / "ok.png", tiny_png(10, 10));
    const auto t0 = std::chrono::steady_clock::now();
    auto f = data::internal::load_image_folder(dir.str(), 8, 1, 0, "data.path");
    EXPECT_EQ(f.images.size(0), 1);
    ASSERT_EQ(f.warnings.size(), 1u);
    EXPECT_TRUE(contains(f.warnings[0], cases[i].second)) << f.warnings[0];
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  }
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

// An image folder holding a link back to itself and a 63-byte BMP whose header
// claims 8000×8000: each image is read once, the BMP is skipped (named) without
// being decoded, and the run trains.
TEST_F(BadInputCli, ImageFolderWithALinkLoopAndATinyHugeBmpTrains) {
  fs::create_directories(dir_ / "imgs/sub");
  spit(dir_ / "imgs/sub/good.png", tiny_png(16, 16));
  fs::create_directory_symlink("..", dir_ / "imgs/sub/up");
  auto le32 = [](uint32_t v) {
    return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  };
  spit(dir_ / "imgs/x.bmp", "BM" + le32(63) + le32(0) + le32(54) + le32(40) + le32(8000) +
                                le32(8000) + std::string{1, 0, 24, 0} + le32(0) + le32(0) +
                                le32(2835) + le32(2835) + le32(0) + le32(0) + std::string(9, 'x'));
  spit(dir_ / "img.json",
       R"({"data": {"type": "image_folder", "size": 28, "channels": 1, "path": ")" +
           (dir_ / "imgs") + R"("},
      "model": {"type": "convnet", "n_f": 4}, "chains": {"type": "noise"},
      "sampler": {"type": "langevin", "step_size": 1.0, "noise_scale": 0.01},
      "train": {"iterations": 1, "batch_size": 4, "mcmc_steps": 2}, "eval": {"every": 0, "samples": 4}})");
  const Result r = run("train --config " + (dir_ / "img.json") + " --out " + (dir_ / "run"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "anila: warning: skipped 1 files in " + (dir_ / "imgs") +
                                     " (first: x.bmp: header claims 8000×8000 pixels"))
      << r.output;
  EXPECT_FALSE(crash_output(r.output)) << r.output;
}

// The README's lr_schedule row names only types the binary accepts ("warmup"
// is a number of iterations, not a type).
TEST_F(BadInputCli, ReadmeListsOnlyScheduleTypesThatExist) {
  std::istringstream readme(slurp(std::string(ANILA_SOURCE_DIR) + "/README.md"));
  std::string row;
  for (std::string line; std::getline(readme, line);)
    if (contains(line, "| `train.lr_schedule` |")) row = line;
  ASSERT_FALSE(row.empty());
  const Result r = run("train --config " + tiny_config(dir_) + " --out " + (dir_ / "o") +
                       " --set train.lr_schedule.type=nope");
  ASSERT_TRUE(contains(r.output, "allowed: constant, cosine, step, linear")) << r.output;
  for (const char* type : {"constant", "cosine", "linear", "step"})
    EXPECT_TRUE(contains(row, std::string("`") + type + "`") || contains(row, type)) << row;
  EXPECT_FALSE(contains(row, "`warmup`/") || contains(row, "/`warmup`")) << row;
  EXPECT_TRUE(contains(row, "`warmup` iterations")) << row;
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

// The crafted old-format checkpoint that crashed LibTorch's reader, through the CLI.
TEST_F(BadInputCli, CraftedOldCheckpointIsRefusedWithoutCrashing) {
  const std::string cfg = tiny_config(dir_), out = dir_ / "run";
  ASSERT_EQ(
      run("train --quiet --config " + cfg + " --out " + out + " --set train.iterations=5").code, 0);
  const std::string zip = crafted_libtorch_zip();
  std::string old = io::checkpoint_header(zip);
  old[7] = '1';
  spit(out + "/checkpoints/last.pt", old + zip);
  expect_user_error("train --resume " + out, "is in the old LibTorch format");
  expect_user_error("eval --checkpoint " + out + " --n 8", "ANILA_TRUST_OLD_CHECKPOINTS=1");
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
  // The checkpoint (16 KB) fits in 40 KB; log_density.npy on a 128² grid (131 KB) does not.
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
  EXPECT_EQ(lines(without_warnings(r.output)), 1) << r.output;
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
