// run_lock.cpp — flock(2) plus a holder record on RUN/.anila-lock (see anila/io/run_lock.h).
#include "anila/io/run_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "anila/common.h"

namespace anila::io {

namespace {

std::string lock_path(const std::string& dir) {
  return (std::filesystem::path(dir) / kRunLockName).string();
}

std::string read_record(int fd) {
  char buf[512] = {0};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

std::string this_host() {
  char name[256] = {0};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "unknown-host";
  for (char* c = name; *c; ++c)
    if (*c == ' ' || *c == '\n') *c = '_';
  return name;
}

std::string read_record_at(const std::string& dir) {
  const int fd = ::open(lock_path(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const std::string text = read_record(fd);
  ::close(fd);
  return text;
}

// "PID HOST\n" (older anila wrote "PID\n": this host).
RunLockHolder parse_record(const std::string& text) {
  RunLockHolder h;
  std::istringstream in(text);
  in >> h.pid >> h.host;
  if (h.pid <= 0) return {};
  if (h.host.empty()) h.host = this_host();
  return h;
}

bool alive_here(long pid) {
  return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

[[noreturn]] void refuse(const std::string& dir, const RunLockHolder& h) {
  std::string who;
  if (h.pid > 0) {
    who = " (pid " + std::to_string(h.pid) + (h.host == this_host() ? "" : " on host " + h.host) +
          ")";
  }
  std::string hint = "; wait for it to finish or choose another --out";
  if (h.pid > 0 && h.host != this_host()) {
    hint += "; if it no longer runs on " + h.host + ", remove " + lock_path(dir);
  }
  throw UserError("run folder " + dir + " is in use by another anila process" + who + hint);
}

// Takes `fd`'s flock without waiting: true when held, false when the file
// system has no locks (then only the record guards the folder).
bool take_flock(int fd, const std::string& dir, bool use_flock) {
  if (!use_flock) return false;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
  const int err = errno;
  if (err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) return false;
  if (err == EWOULDBLOCK) {
    ::close(fd);
    refuse(dir, parse_record(read_record_at(dir)));
  }
  ::close(fd);
  throw UserError("cannot lock run folder " + dir + ": " + std::strerror(err));
}

}  // namespace

RunLockHolder run_lock_record(const std::string& dir) {
  return parse_record(read_record_at(dir));
}

long run_lock_holder(const std::string& dir) {
  return run_lock_record(dir).pid;
}

RunLock::RunLock(const std::string& dir, bool use_flock) {
  const std::string path = lock_path(dir);
  // Retry when the file was replaced between open and flock (a folder removed
  // and made again by another process): the lock must be on the file the path names.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw UserError("cannot lock run folder " + dir + ": cannot open " + path + ": " +
                      std::strerror(errno));
    }
    const bool flocked = take_flock(fd, dir, use_flock);
    struct stat held {
    }, named{};
    if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &named) != 0 ||
        held.st_ino != named.st_ino || held.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    // The record decides what flock cannot see: a holder on another host (flock
    // on a shared folder may be local to each client) is respected; one on this
    // host is stale when we hold the flock, or when its pid is gone.
    const RunLockHolder h = parse_record(read_record(fd));
    if (h.pid > 0 && h.host != this_host()) {
      ::close(fd);
      refuse(dir, h);
    }
    if (h.pid > 0 && !flocked && h.pid != long(::getpid()) && alive_here(h.pid)) {
      ::close(fd);
      refuse(dir, h);
    }
    const std::string record =
        std::to_string(static_cast<long>(::getpid())) + " " + this_host() + "\n";
    const bool wrote = ::ftruncate(fd, 0) == 0 &&
                       ::pwrite(fd, record.data(), record.size(), 0) == ssize_t(record.size()) &&
                       ::fsync(fd) == 0;
    if (!wrote && !flocked) {
      ::close(fd);
      throw UserError("cannot lock run folder " + dir + ": cannot write " + path + ": " +
                      std::strerror(errno));
    }
    fd_ = fd;
    return;
  }
  throw UserError("cannot lock run folder " + dir + ": its lock file keeps being replaced");
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Clear the record first: a holder that ends normally leaves no record behind
  // (only kill -9 or a crash does, and on this host that is detected as stale).
  if (::ftruncate(fd_, 0) != 0) {
    // the record stays; the next run on this host finds it stale
  }
  ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace anila::io
