// fuzz_npy.cpp — NumPy .npy arrays (io::read_npy).
#include "anila/common.h"
#include "anila/io/files.h"
#include "fuzz.h"

ANILA_FUZZ_TARGET(npy) {
  const std::string path = anila::fuzz::put_file("array.npy", data, size);
  try {
    (void)anila::io::read_npy(path);
  } catch (const anila::UserError&) {
  }
  return 0;
}
