// run_lock.h — an advisory lock on a run folder for the life of a run.
//
// `RunLock lock(dir)` opens (creating it when needed) DIR/.anila-lock, takes an
// exclusive flock(2) without waiting and writes the holder's record, "PID HOST",
// into it. A second `anila train`, `--resume`, `--force` or `compare` on the
// same folder gets a UserError naming the holder instead of interleaving writes.
// The kernel drops the flock when the holder exits in any way, kill -9
// included; a holder that ends normally also clears its record. The file itself
// stays (removing it would race with a process about to lock it).
//
// flock alone is not enough on a shared folder: on NFS it is emulated with
// byte-range locks (which need the lock daemon) or, with `nolock`/`local_lock`,
// is local to each client, and some mounts refuse it (ENOLCK). So the record
// decides what flock cannot see:
//   * a record naming another host is always respected (its process cannot be
//     checked from here): the message names pid and host and says to remove the
//     file if that run is gone;
//   * a record naming this host is stale when we got the flock (its holder has
//     exited), or, where the file system has no flock, when its pid is not alive.
// What remains unguarded: two hosts starting on the same folder within the same
// instant on a mount whose flock is client-local.
#pragma once

#include <string>

namespace anila::io {

// The lock file's name inside a run folder.
constexpr const char* kRunLockName = ".anila-lock";

class RunLock {
 public:
  // `dir` must exist. UserError("run folder DIR is in use by another anila process (pid N) ...")
  // when another process holds it; UserError on I/O errors. `use_flock = false`
  // behaves as on a file system without flock (the record only; for tests).
  explicit RunLock(const std::string& dir, bool use_flock = true);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// The holder recorded in DIR/.anila-lock: pid 0 when there is none (absent,
// unreadable, or cleared by a holder that ended normally).
struct RunLockHolder {
  long pid = 0;
  std::string host;
};
RunLockHolder run_lock_record(const std::string& dir);

// run_lock_record(dir).pid.
long run_lock_holder(const std::string& dir);

}  // namespace anila::io
