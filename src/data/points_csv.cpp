// points_csv.cpp — the `x,y` point-file reader (format in points_csv.h).
#include "data/points_csv.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include <ATen/ATen.h>

#include "anila/common.h"
#include "anila/config.h"

namespace anila::data::internal {

namespace {

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma - start)));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

// A whole field parsed as a number (possibly nan or inf); false if anything is left over.
bool parse_number(const std::string& field, double& value) {
  if (field.empty()) return false;
  char* end = nullptr;
  value = std::strtod(field.c_str(), &end);  // overflow gives ±inf, caught as not finite
  return end == field.c_str() + field.size();
}

// Whether a field starts like a number: optional sign, then a digit, or a dot
// and a digit, or nan/inf. Used only to tell a header from a garbled data line.
bool looks_numeric(const std::string& field) {
  size_t i = 0;
  if (i < field.size() && (field[i] == '+' || field[i] == '-')) ++i;
  if (i < field.size() && std::isdigit(static_cast<unsigned char>(field[i]))) return true;
  if (i + 1 < field.size() && field[i] == '.' &&
      std::isdigit(static_cast<unsigned char>(field[i + 1]))) {
    return true;
  }
  std::string rest = field.substr(i, 3);
  for (char& c : rest) c = char(std::tolower(static_cast<unsigned char>(c)));
  return rest == "nan" || rest == "inf";
}

// The offending line as shown in a message: trimmed, and cut if long.
std::string shown(const std::string& line) {
  std::string s = trim(line);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace

at::Tensor read_points_csv(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path);
  if (!in || std::filesystem::is_directory(path, ec)) {
    throw UserError("cannot read data file " + path + ": no such file or not readable");
  }
  std::vector<double> values;
  std::string line;
  int64_t line_number = 0;
  bool first_content = true;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    const std::vector<std::string> fields = split_commas(text);
    double x = 0, y = 0;
    const bool parsed =
        fields.size() == 2 && parse_number(fields[0], x) && parse_number(fields[1], y);
    if (!parsed && first_content) {
      bool header = true;
      for (const auto& f : fields) header = header && !looks_numeric(f);
      if (header) {
        first_content = false;
        continue;
      }
    }
    first_content = false;
    const std::string where = path + ":" + std::to_string(line_number) + ": ";
    if (!parsed) {
      throw UserError(where + "expected two numbers \"x,y\", got \"" + shown(line) + "\"");
    }
    if (!std::isfinite(x) || !std::isfinite(y)) {
      throw UserError(where + "expected two finite numbers \"x,y\", got \"" + shown(line) + "\"");
    }
    // Training runs in float32: beyond ±3.4e38 a value overflows to inf.
    if (std::abs(x) > 3.4e38 || std::abs(y) > 3.4e38) {
      throw UserError(where + "\"" + shown(line) +
                      "\" is beyond float32 (values must satisfy |x| < 3.4e38)");
    }
    values.push_back(x);
    values.push_back(y);
  }
  if (in.bad()) throw UserError("cannot read data file " + path + ": read error");
  const int64_t n = int64_t(values.size() / 2);
  if (n == 0) throw UserError(path + ": no data points (need at least 2)");
  if (n == 1) throw UserError(path + ": only 1 data point (need at least 2)");
  return at::from_blob(values.data(), {n, 2}, at::kDouble).clone();
}

}  // namespace anila::data::internal
