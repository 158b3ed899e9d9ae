// fuzz_cifar.cpp — a CIFAR-10 binary batch (test_batch.bin), then resizing to 16×16.
#include "anila/common.h"
#include "data/images_internal.h"
#include "fuzz.h"

ANILA_FUZZ_TARGET(cifar) {
  anila::fuzz::put_file("test_batch.bin", data, size);
  try {
    anila::data::internal::ByteImages b =
        anila::data::internal::read_cifar10(anila::fuzz::scratch(), "test", "data.path");
    (void)anila::data::internal::bytes_to_images(b.pixels, 16);
  } catch (const anila::UserError&) {
  }
  return 0;
}
