// run_lock.h — an advisory lock on a run folder for the life of a run.
//
// `RunLock lock(dir)` opens (creating it when needed) DIR/.anila-lock, takes an
// exclusive flock(2) without waiting and writes the holder's pid into it. A
// second `anila train`, `--resume`, `--force` or `compare` on the same folder
// gets a UserError naming the holder's pid instead of interleaving writes. The
// kernel drops the lock when the holder exits in any way, kill -9 included, so
// a stale lock file is simply taken over by the next run; the file itself
// stays (removing it would race with a process about to lock it).
//
// Local file systems only: flock on NFS is emulated (or absent) on some systems.
#pragma once

#include <string>

namespace anila::io {

// The lock file's name inside a run folder.
constexpr const char* kRunLockName = ".anila-lock";

class RunLock {
 public:
  // `dir` must exist. UserError("run folder DIR is in use by another anila process (pid N) ...")
  // when another process holds it; UserError on I/O errors.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// The pid recorded in DIR/.anila-lock (0 when absent or unreadable).
long run_lock_holder(const std::string& dir);

}  // namespace anila::io
