// fuzz_csv.cpp — the "x,y" point-file reader (data.type = csv).
#include "anila/common.h"
#include "data/points_csv.h"
#include "fuzz.h"

ANILA_FUZZ_TARGET(csv) {
  const std::string path = anila::fuzz::put_file("points.csv", data, size);
  try {
    (void)anila::data::internal::read_points_csv(path);
  } catch (const anila::UserError&) {
  }
  return 0;
}
