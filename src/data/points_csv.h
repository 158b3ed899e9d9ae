// points_csv.h — reading 2D points from a text file (private to src/data).
//
// Format (docs/datasets.md, "csv"): one point per line, `x,y`: two finite
// numbers separated by a comma, spaces or tabs around them allowed. Blank lines
// and lines whose first non-blank character is `#` are skipped. The first other
// line may be a header: it is skipped when none of its comma-separated fields
// starts like a number (`x,y`, `lon,lat`). Windows line endings are accepted.
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

namespace anila::data::internal {

// Returns the points: [N, 2] float64, N >= 2. Throws UserError, one line each:
//   cannot read data file F: no such file or not readable
//   F:7: expected two numbers "x,y", got "1.0;abc"
//   F:7: expected two finite numbers "x,y", got "nan,1"
//   F: no data points (need at least 2)
at::Tensor read_points_csv(const std::string& path);

}  // namespace anila::data::internal
