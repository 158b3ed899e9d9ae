// run_lock.cpp — flock(2) on RUN/.anila-lock (see anila/io/run_lock.h).
#include "anila/io/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "anila/common.h"

namespace anila::io {

namespace {

std::string lock_path(const std::string& dir) {
  return (std::filesystem::path(dir) / kRunLockName).string();
}

}  // namespace

long run_lock_holder(const std::string& dir) {
  const int fd = ::open(lock_path(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32] = {0};
  const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  return n > 0 ? std::strtol(buf, nullptr, 10) : 0;
}

RunLock::RunLock(const std::string& dir) {
  const std::string path = lock_path(dir);
  // Retry when the file was replaced between open and flock (a folder removed
  // and made again by another process): the lock must be on the file the path names.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw UserError("cannot lock run folder " + dir + ": cannot open " + path + ": " +
                      std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err != EWOULDBLOCK) {
        throw UserError("cannot lock run folder " + dir + ": " + std::strerror(err));
      }
      const long pid = run_lock_holder(dir);
      throw UserError("run folder " + dir + " is in use by another anila process" +
                      (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                      "; wait for it to finish or choose another --out");
    }
    struct stat held {
    }, named{};
    if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
        held.st_ino == named.st_ino && held.st_dev == named.st_dev) {
      const std::string pid = std::to_string(static_cast<long>(::getpid())) + "\n";
      const bool wrote = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) > 0;
      (void)wrote;  // without the pid the lock still holds; messages then omit it
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw UserError("cannot lock run folder " + dir + ": its lock file keeps being replaced");
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace anila::io
