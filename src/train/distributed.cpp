// distributed.cpp — c10d rendezvous, process groups, failure diagnosis and the
// local launcher (see anila/train/distributed.h and docs/distributed.md).
//
// Built with USE_C10D, with USE_C10D_GLOO plus ANILA_WITH_GLOO when Gloo's headers
// are found, and USE_C10D_NCCL plus ANILA_WITH_NCCL on CUDA builds of LibTorch with
// nccl.h; CMakeLists.txt sets them for this file only. The
// concrete process-group types are held directly: in LibTorch 1.13 they derive
// from c10d::ProcessGroup, in 2.x from c10d::Backend, and both return
// c10::intrusive_ptr<c10d::Work> from their collectives.
#include "anila/train/distributed.h"

#include <netdb.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <c10/util/Logging.h>
#include <torch/cuda.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#ifdef ANILA_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef ANILA_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

extern char** environ;

namespace anila::dist {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHeartbeatPeriod = std::chrono::milliseconds(500);
constexpr auto kHeartbeatWindow = std::chrono::milliseconds(2500);

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// c10d logs its connection retries and timeouts through glog; the errors this
// file raises already say what happened, in one line.
class QuietLogs {
 public:
  QuietLogs() {
#ifdef C10_USE_GLOG
    saved_ = FLAGS_minloglevel;
    FLAGS_minloglevel = 3;
#endif
  }
  ~QuietLogs() {
#ifdef C10_USE_GLOG
    FLAGS_minloglevel = saved_;
#endif
  }

 private:
  int saved_ = 0;
};

int64_t env_integer(const char* name, int64_t fallback, int64_t min) {
  const char* raw = std::getenv(name);
  if (!raw || !*raw) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(raw, &end, 10);
  if (errno || *end || v < min) {
    throw UserError(std::string("environment variable ") + name + "=\"" + raw +
                    "\": expected an integer >= " + std::to_string(min));
  }
  return v;
}

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

std::vector<uint8_t> to_bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

// Keys of this run in the store (a torchrun agent store outlives restarts).
std::string store_key(const std::string& name) {
  const char* restart = std::getenv("TORCHELASTIC_RESTART_COUNT");
  return std::string("anila/") + (restart && *restart ? restart : "0") + "/" + name;
}

std::string heartbeat_key(int64_t rank) {
  return store_key("heartbeat/" + std::to_string(rank));
}

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

// A fast, clear error for a MASTER_ADDR that does not resolve (c10d would retry
// until its timeout).
void check_resolves(const std::string& host, const std::string& who) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (found) freeaddrinfo(found);
  if (rc != 0) {
    throw UserError(who + ": MASTER_ADDR \"" + host + "\" does not resolve (" + gai_strerror(rc) +
                    "); set it to the address of rank 0's machine");
  }
}

}  // namespace

// ---- options ---------------------------------------------------------------

DistOptions options_from_env() {
  DistOptions o;
  o.world_size = env_integer("WORLD_SIZE", 1, 1);
  o.rank = env_integer("RANK", 0, 0);
  if (o.rank >= o.world_size) {
    throw UserError("environment: RANK=" + std::to_string(o.rank) +
                    " is not below WORLD_SIZE=" + std::to_string(o.world_size));
  }
  o.local_rank = env_integer("LOCAL_RANK", o.rank, 0);
  o.local_world_size = env_integer("LOCAL_WORLD_SIZE", o.world_size, 1);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) o.master_addr = a;
  o.master_port = env_integer("MASTER_PORT", 29500, 1);
  if (o.master_port > 65535) {
    throw UserError("environment variable MASTER_PORT=" + std::to_string(o.master_port) +
                    ": expected a port in 1..65535");
  }
  const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
  o.external_store = agent && (std::string(agent) == "True" || std::string(agent) == "1");
  const char* launcher = std::getenv("ANILA_LAUNCHER");
  o.launched = launcher && std::string(launcher) == "1";
  return o;
}

bool nccl_available() {
#ifdef ANILA_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::string resolve_backend(const std::string& backend, const c10::Device& device) {
  if (backend == "auto" && device.is_cuda() && nccl_available()) return "nccl";
  if (backend == "auto" || backend == "gloo") {
#ifndef ANILA_WITH_GLOO
    throw UserError(
        "distributed training on this device needs Gloo, and this build has none (Gloo's "
        "headers were not found when it was configured; Debian: libgloo-dev)");
#endif
    return "gloo";
  }
  if (backend == "nccl") {
    if (!nccl_available()) {
      throw UserError(
          "--dist-backend nccl: this build has no NCCL (it needs a CUDA LibTorch with NCCL); use "
          "gloo");
    }
    if (!device.is_cuda()) {
      throw UserError(
          "--dist-backend nccl needs device cuda (the config's device is cpu); use gloo");
    }
    return backend;
  }
  throw UserError("--dist-backend: unknown backend \"" + backend + "\"; allowed: auto, gloo, nccl");
}

c10::Device rank_device(const c10::Device& device, const DistOptions& options) {
  if (!device.is_cuda() || options.world_size <= 1) return device;
  const int64_t gpus = static_cast<int64_t>(torch::cuda::device_count());
  if (options.local_rank >= gpus) {
    throw UserError("rank " + std::to_string(options.rank) + ": LOCAL_RANK " +
                    std::to_string(options.local_rank) + " needs cuda:" +
                    std::to_string(options.local_rank) + ", but this machine has " +
                    std::to_string(gpus) + " GPU(s); start at most that many ranks per machine");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(options.local_rank));
}

uint64_t rank_seed(uint64_t seed, int64_t rank) {
  // splitmix64 of (seed, rank): well separated streams for neighbouring seeds.
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(rank + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;  // keep it a non-negative int64 for JSON and at::Generator
}

void check_world_size(const Json& resolved, int64_t world_size) {
  if (world_size <= 1) return;
  const int64_t M = resolved.at("train").at("batch_size").get<int64_t>();
  const std::string n = std::to_string(world_size);
  if (M % world_size != 0) {
    throw UserError("train.batch_size (" + std::to_string(M) + ") must be divisible by the " + n +
                    " ranks (each rank takes batch_size / " + n + " chains)");
  }
  const Json& chains = resolved.at("chains");
  const std::string type = chains.at("type").get<std::string>();
  if (type == "persistent" || type == "replay") {
    const int64_t B = chains.at("bank_size").get<int64_t>();
    if (B % world_size != 0) {
      throw UserError("chains.bank_size (" + std::to_string(B) + ") must be divisible by the " + n +
                      " ranks (each rank keeps bank_size / " + n + " chains)");
    }
  }
}

// ---- the process group -----------------------------------------------------

struct Communicator::Impl {
  DistOptions o;
  std::string backend;
  c10::Device comm_device{c10::kCPU};        // where collectives run: CPU (gloo) or the rank's GPU
  c10::intrusive_ptr<c10d::TCPStore> store;  // this rank's client (server on rank 0)
  c10::intrusive_ptr<c10d::TCPStore> hb_store;  // the heartbeat thread's own client
#ifdef ANILA_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef ANILA_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  std::thread heartbeat;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;

  std::string me() const {
    return "rank " + std::to_string(o.rank);
  }
  std::string store_address() const {
    return o.master_addr + ":" + std::to_string(o.master_port);
  }

  template <class F>
  c10::intrusive_ptr<c10d::Work> issue(F&& op) {
#ifdef ANILA_WITH_NCCL
    if (nccl) return op(*nccl);
#endif
#ifdef ANILA_WITH_GLOO
    if (gloo) return op(*gloo);
#endif
    throw std::logic_error("Communicator: no process group");
  }

  // The heartbeat thread; the store call runs without the lock, so stopping never
  // waits on the network for longer than the client's timeout (set in connect).
  void beat_forever() {
    for (int64_t count = 1;; ++count) {
      try {
        hb_store->set(heartbeat_key(o.rank), to_bytes(std::to_string(count)));
      } catch (const std::exception&) {
        return;  // the store is gone; fail() diagnoses that
      }
      std::unique_lock<std::mutex> lock(mutex);
      if (wake.wait_for(lock, kHeartbeatPeriod, [this] { return stopping; })) return;
    }
  }

  // Heartbeat counters of every rank (-1: never beat), read with the main client.
  std::vector<int64_t> heartbeats() {
    std::vector<int64_t> out(size_t(o.world_size), -1);
    for (int64_t r = 0; r < o.world_size; ++r) {
      const std::string key = heartbeat_key(r);
      if (!store->check({key})) continue;
      const auto v = store->get(key);
      out[size_t(r)] = std::stoll(std::string(v.begin(), v.end()));
    }
    return out;
  }
};

namespace {

c10::intrusive_ptr<c10d::TCPStore> open_store(const DistOptions& o, bool server) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(o.master_port);
  so.isServer = server;
  so.waitWorkers = false;
  so.timeout = to_ms(o.rdzv_timeout_s);
  const std::string who = "rank " + std::to_string(o.rank);
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  try {
    return c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
  } catch (const std::exception& e) {
    const std::string what = first_line(e.what());
    if (server && what.find("listen") != std::string::npos) {
      const bool in_use = what.find("Address already in use") != std::string::npos;
      throw UserError(who + ": cannot host the rendezvous store on port " +
                      std::to_string(o.master_port) + " (" +
                      (in_use ? std::string("address already in use") : what) +
                      "); set MASTER_PORT to a free port");
    }
    throw UserError(who + ": cannot reach the rendezvous store at " + where + " within " +
                    fmt_seconds(o.rdzv_timeout_s) +
                    " (is rank 0 running there? check MASTER_ADDR and MASTER_PORT)");
  }
}

// Every rank adds itself to a counter; returns once all world_size have.
void wait_for_ranks(c10d::TCPStore& store, const DistOptions& o) {
  const std::string key = store_key("joined");
  store.add(key, 1);
  const auto deadline = Clock::now() + to_ms(o.rdzv_timeout_s);
  for (int64_t n = store.add(key, 0); n < o.world_size; n = store.add(key, 0)) {
    if (Clock::now() > deadline) {
      throw UserError("rank " + std::to_string(o.rank) + ": only " + std::to_string(n) + " of " +
                      std::to_string(o.world_size) + " ranks joined the rendezvous at " +
                      o.master_addr + ":" + std::to_string(o.master_port) + " within " +
                      fmt_seconds(o.rdzv_timeout_s) +
                      " (start every rank with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

#ifdef ANILA_WITH_GLOO
std::shared_ptr<::gloo::transport::Device> gloo_device(const DistOptions& o) {
  using PG = c10d::ProcessGroupGloo;
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    return PG::createDeviceForInterface(ifname);
  }
  if (is_loopback(o.master_addr)) return PG::createDeviceForHostname("127.0.0.1");
  return PG::createDefaultDevice();
}
#endif

void make_process_group(Communicator::Impl& impl) {
  [[maybe_unused]] const DistOptions& o = impl.o;
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>(store_key(impl.backend), impl.store);
  try {
#ifdef ANILA_WITH_NCCL
    if (impl.backend == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = to_ms(o.timeout_s);
      impl.nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, int(o.rank),
                                                              int(o.world_size), opts);
      return;
    }
#endif
#ifdef ANILA_WITH_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(to_ms(o.timeout_s));
    opts->devices.push_back(gloo_device(o));
    impl.gloo =
        c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, int(o.rank), int(o.world_size), opts);
#endif
  } catch (const std::exception& e) {
    throw UserError(impl.me() + ": cannot connect to the other ranks over " + impl.backend + ": " +
                    first_line(e.what()));
  }
}

}  // namespace

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::shared_ptr<Communicator> Communicator::connect(const DistOptions& o,
                                                    const c10::Device& device) {
  auto impl = std::make_unique<Impl>();
  impl->o = o;
  impl->backend = resolve_backend(o.backend, device);
  const c10::Device mine = rank_device(device, o);  // checks LOCAL_RANK against the GPUs
  impl->comm_device = impl->backend == "nccl" ? mine : c10::Device(c10::kCPU);
  if (o.world_size < 2) throw UserError("distributed training needs WORLD_SIZE >= 2");
  check_resolves(o.master_addr, impl->me());
  ::signal(SIGPIPE, SIG_IGN);  // a peer's closed socket is an error to report, not a signal
  QuietLogs quiet;
  impl->store = open_store(o, /*server=*/o.rank == 0 && !o.external_store);
  impl->hb_store = open_store(o, /*server=*/false);
  // The first beat before joining: fail() can read every rank's counter.
  impl->hb_store->set(heartbeat_key(o.rank), to_bytes("0"));
  impl->hb_store->setTimeout(std::chrono::milliseconds(5000));
  wait_for_ranks(*impl->store, o);
  make_process_group(*impl);
  impl->heartbeat = std::thread([p = impl.get()] { p->beat_forever(); });
  return std::shared_ptr<Communicator>(new Communicator(std::move(impl)));
}

Communicator::~Communicator() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->heartbeat.joinable()) impl_->heartbeat.join();
}

int64_t Communicator::rank() const {
  return impl_->o.rank;
}
int64_t Communicator::world_size() const {
  return impl_->o.world_size;
}
const std::string& Communicator::backend() const {
  return impl_->backend;
}
const DistOptions& Communicator::options() const {
  return impl_->o;
}

namespace {

template <class Op>
void run_collective(Communicator& comm, Communicator::Impl& impl, const std::string& what,
                    Op&& op) {
  std::string cause;
  try {
    impl.issue(std::forward<Op>(op))->wait();
    return;
  } catch (const std::exception& e) {
    cause = first_line(e.what());
  }
  comm.fail(what, cause);
}

}  // namespace

void Communicator::allreduce_sum(at::Tensor& flat, const std::string& what) {
  at::Tensor buf = flat.to(impl_->comm_device).contiguous();
  std::vector<at::Tensor> v{buf};
  run_collective(*this, *impl_, what, [&](auto& pg) { return pg.allreduce(v); });
  if (!buf.is_same(flat)) flat.copy_(buf);
}

void Communicator::allreduce_mean(at::Tensor& flat, const std::string& what) {
  allreduce_sum(flat, what);
  flat.div_(static_cast<double>(world_size()));
}

void Communicator::broadcast(at::Tensor& t, int64_t root, const std::string& what) {
  at::Tensor buf = t.to(impl_->comm_device).contiguous();
  std::vector<at::Tensor> v{buf};
  c10d::BroadcastOptions bo;
  bo.rootRank = root;
  run_collective(*this, *impl_, what, [&](auto& pg) { return pg.broadcast(v, bo); });
  if (!buf.is_same(t)) t.copy_(buf);
}

at::Tensor Communicator::allgather(const at::Tensor& t, const std::string& what) {
  at::Tensor in = t.to(impl_->comm_device).contiguous();
  std::vector<std::vector<at::Tensor>> outs(1);
  for (int64_t r = 0; r < world_size(); ++r) outs[0].push_back(at::empty_like(in));
  std::vector<at::Tensor> ins{in};
  run_collective(*this, *impl_, what, [&](auto& pg) { return pg.allgather(outs, ins); });
  return at::stack(outs[0]).to(t.device());
}

bool Communicator::agree(int status, const std::string& what) {
  at::Tensor s = at::zeros({world_size()}, at::kFloat);
  s[rank()] = static_cast<float>(status);
  allreduce_sum(s, what);
  const at::Tensor all = s.to(at::kCPU);
  for (int64_t r = 0; r < world_size(); ++r) {
    const int code = static_cast<int>(all[r].item<float>());
    if (code == 0) continue;
    if (r == rank()) return false;
    throw PeerStopped(impl_->o.launched ? ""
                                        : impl_->me() + ": stopping: rank " + std::to_string(r) +
                                              " failed " + what + " (see its message)",
                      code);
  }
  return true;
}

void Communicator::fail(const std::string& what, const std::string& cause) {
  Impl& impl = *impl_;
  QuietLogs quiet;
  std::vector<int64_t> lost;
  bool store_gone = false;
  try {
    impl.store->setTimeout(std::chrono::milliseconds(5000));
    const auto before = impl.heartbeats();
    std::this_thread::sleep_for(kHeartbeatWindow);
    const auto after = impl.heartbeats();
    for (int64_t r = 0; r < world_size(); ++r) {
      if (r != rank() && (before[size_t(r)] < 0 || before[size_t(r)] == after[size_t(r)]))
        lost.push_back(r);
    }
  } catch (const std::exception&) {
    store_gone = true;
  }
  const std::string stopped = "stopped answering: killed, crashed or exited";
  if (store_gone && !impl.o.external_store) {
    throw RankLostError(impl.me() + ": lost rank 0 (it hosts the rendezvous store and " + stopped +
                        ") during " + what);
  }
  if (store_gone) {
    throw RankLostError(impl.me() + ": the rendezvous store at " + impl.store_address() +
                        " is gone (did the launcher stop?) during " + what);
  }
  if (lost.empty()) {
    throw RankLostError(impl.me() + ": a collective failed during " + what + ": " + cause);
  }
  std::string names;
  for (int64_t r : lost) names += (names.empty() ? "" : ", ") + std::to_string(r);
  throw RankLostError(impl.me() + ": lost rank" + (lost.size() > 1 ? "s " : " ") + names + " (" +
                      stopped + ") during " + what);
}

// ---- local launcher ----------------------------------------------------------

namespace {

volatile sig_atomic_t g_launcher_signal = 0;
void on_launcher_signal(int sig) {
  g_launcher_signal = sig;
}

struct Child {
  pid_t pid = -1;
  int64_t rank = 0;
  bool running = true;
};

std::vector<char*> c_strings(std::vector<std::string>& items) {
  std::vector<char*> out;
  for (auto& s : items) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> child_environment(int64_t rank, int64_t nproc, int port) {
  static const std::vector<std::string> kOurs = {
      "RANK",          "LOCAL_RANK",  "WORLD_SIZE",  "LOCAL_WORLD_SIZE",
      "GROUP_RANK",    "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE",
      "ANILA_LAUNCHER"};
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const std::string name = kv.substr(0, kv.find('='));
    if (std::find(kOurs.begin(), kOurs.end(), name) == kOurs.end()) env.push_back(kv);
  }
  const std::string r = std::to_string(rank), n = std::to_string(nproc);
  for (const std::string& kv :
       {"RANK=" + r, "LOCAL_RANK=" + r, "WORLD_SIZE=" + n, "LOCAL_WORLD_SIZE=" + n,
        std::string("GROUP_RANK=0"), std::string("MASTER_ADDR=127.0.0.1"),
        "MASTER_PORT=" + std::to_string(port), std::string("TORCHELASTIC_USE_AGENT_STORE=True"),
        std::string("ANILA_LAUNCHER=1")}) {
    env.push_back(kv);
  }
  return env;
}

// Waits for every child; see launch_local for the policy.
int supervise(std::vector<Child>& children, double grace_s) {
  int first_code = 0;
  bool failing = false;
  int escalation = 0;  // 0 waiting, 1 SIGTERM sent, 2 SIGKILL sent
  auto deadline = Clock::now();
  size_t running = children.size();
  auto signal_all = [&](int sig) {
    for (auto& c : children)
      if (c.running) ::kill(c.pid, sig);
  };
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      auto it = std::find_if(children.begin(), children.end(),
                             [pid](const Child& c) { return c.pid == pid; });
      if (it == children.end()) continue;
      it->running = false;
      --running;
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : kExitRankLost;
      if (WIFSIGNALED(status) && escalation == 0 && !g_launcher_signal) {
        const int sig = WTERMSIG(status);
        std::cerr << "anila: error: rank " << it->rank << " (pid " << pid
                  << ") was killed by signal " << sig << " (" << strsignal(sig) << ")\n";
      }
      if (code != 0 && !failing) {
        failing = true;
        first_code = code;
        deadline = Clock::now() + to_ms(grace_s);
      }
      continue;
    }
    if (g_launcher_signal && !failing) {
      failing = true;
      first_code = 128 + g_launcher_signal;
      signal_all(SIGTERM);
      escalation = 1;
      deadline = Clock::now() + std::chrono::seconds(5);
    }
    if (failing && Clock::now() > deadline && escalation < 2) {
      signal_all(escalation == 0 ? SIGTERM : SIGKILL);
      ++escalation;
      deadline = Clock::now() + std::chrono::seconds(5);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return g_launcher_signal ? 128 + g_launcher_signal : first_code;  // Ctrl-C: 130, like a shell
}

}  // namespace

int launch_local(int64_t nproc, const std::vector<std::string>& argv, double grace_s) {
  if (nproc < 1) throw UserError("--nproc: expected at least 1 rank, got " + std::to_string(nproc));
  QuietLogs quiet;
  // The launcher hosts the store (like torchrun's agent): the OS picks a free
  // port, and the store outlives any one rank, so a lost rank 0 is diagnosed too.
  c10d::TCPStoreOptions so;
  so.port = 0;
  so.isServer = true;
  so.waitWorkers = false;
  auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
  const int port = store->getPort();

  std::vector<char> exe(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", exe.data(), exe.size() - 1);
  if (n <= 0) throw UserError("--nproc: cannot find this executable (/proc/self/exe)");
  std::vector<std::string> args = argv;
  args.insert(args.begin(), std::string(exe.data()));

  g_launcher_signal = 0;
  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = on_launcher_signal;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  std::vector<Child> children;
  const pid_t parent = ::getpid();
  for (int64_t r = 0; r < nproc; ++r) {
    std::vector<std::string> env = child_environment(r, nproc, port);
    std::vector<char*> c_args = c_strings(args), c_env = c_strings(env);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no orphaned ranks if the launcher dies
      if (::getppid() != parent) ::_exit(kExitRankLost);
      ::execve(c_args[0], c_args.data(), c_env.data());
      ::_exit(127);
    }
    if (pid < 0) {
      for (auto& c : children) ::kill(c.pid, SIGKILL);
      throw UserError("--nproc: cannot start rank " + std::to_string(r) + ": " +
                      std::strerror(errno));
    }
    children.push_back({pid, r, true});
  }
  const int code = supervise(children, grace_s);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  return code;
}

}  // namespace anila::dist
