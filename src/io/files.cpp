// files.cpp — atomic file writes, NumPy .npy arrays, run-folder checks, the
// metrics log (metrics.csv + metrics.jsonl) and markdown/CSV tables.
//
// .npy layout (format version 1.0, what NumPy writes today):
//   "\x93NUMPY" 0x01 0x00 <uint16 LE header length> <header> <raw C-order data>
// where the header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' so that the preamble (10 bytes + header)
// is a multiple of 64 bytes. Versions 2.0/3.0 (uint32 header length) are read too.
#include "anila/io/files.h"
#include "anila/config.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <ATen/ATen.h>

#include "io/write_file.h"

namespace anila::io {

namespace fs = std::filesystem;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "anila's .npy writer assumes a little-endian host"
#endif

// ---- checked whole-file helpers ------------------------------------------------

namespace detail {

void write_file_atomic(const std::string& path, std::initializer_list<std::string_view> chunks,
                       const std::string& kind) {
  // Unique per process and per call: threads of one process (compare --jobs)
  // and two processes never share a temporary file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" +
                          std::to_string(counter++);
  auto fail = [&](int err, FILE* f) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw UserError("cannot write " + kind + path + ": " + std::strerror(err));
  };
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(errno, nullptr);
  for (std::string_view chunk : chunks) {
    if (!chunk.empty() && std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size()) {
      fail(errno, f);
    }
  }
  if (std::fflush(f) != 0) fail(errno, f);
  if (::fsync(::fileno(f)) != 0 && errno != EINVAL) fail(errno, f);  // EINVAL: no fsync (pipes)
  if (std::fclose(f) != 0) fail(errno, nullptr);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(errno, nullptr);
}

std::string read_file(const std::string& path, const std::string& kind) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw UserError("cannot read " + kind + path + ": " + std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const bool error = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (error) throw UserError("cannot read " + kind + path + ": " + std::strerror(err));
  return out;
}

}  // namespace detail

void write_atomic(const std::string& path, const std::string& content) {
  detail::write_file_atomic(path, {std::string_view(content)});
}

std::string read_text(const std::string& path) {
  return detail::read_file(path);
}

// ---- .npy ----------------------------------------------------------------------

namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyMagicLen = 6;

struct NpyType {
  const char* descr;
  at::ScalarType dtype;
  size_t itemsize;
};
constexpr NpyType kNpyTypes[] = {
    {"<f4", at::kFloat, 4}, {"<f8", at::kDouble, 8}, {"<i8", at::kLong, 8}, {"|u1", at::kByte, 1}};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Text from a file as shown in a one-line message: control and non-ASCII bytes
// as '?', at most 200 characters.
std::string printable(const std::string& text) {
  std::string out = text.substr(0, 200);
  for (char& c : out) {
    if (c < 32 || c > 126) c = '?';
  }
  return out;
}

// A minimal reader of the header dict NumPy writes: string keys mapped to
// strings, True/False, or tuples of integers.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const std::string& path)
      : s_(text.substr(0, text.find_last_not_of(" \n") + 1)), path_(path) {}

  void parse(std::string* descr, bool* fortran, std::vector<int64_t>* shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        *descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        *fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        *shape = int_tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + printable(key) + "' in the header");
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    if (!have_descr || !have_fortran || !have_shape) {
      fail("header lacks one of 'descr', 'fortran_order', 'shape'");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw UserError("cannot read .npy file " + path_ + ": " + what);
  }
  std::string shown() const { return printable(s_); }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t')) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("malformed header (expected '") + c + "'): " + shown());
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) {
      fail("malformed header (expected a quoted string): " + shown());
    }
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) fail("malformed header (unterminated string): " + shown());
    std::string out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("malformed header (expected True or False): " + shown());
  }
  std::vector<int64_t> int_tuple() {
    std::vector<int64_t> out;
    expect('(');
    while (!peek(')')) {
      size_t digits = 0;
      int64_t v = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        v = v * 10 + (s_[pos_++] - '0');
        if (++digits > 15) fail("shape entry too large: " + shown());
      }
      if (digits == 0) fail("malformed shape in header: " + shown());
      out.push_back(v);
      if (!peek(')')) expect(',');
    }
    expect(')');
    return out;
  }

  const std::string s_;  // the header without its padding
  const std::string& path_;
  size_t pos_ = 0;
};

}  // namespace

void write_npy(const std::string& path, const at::Tensor& array) {
  const NpyType* type = nullptr;
  for (const NpyType& t : kNpyTypes) {
    if (t.dtype == array.scalar_type()) type = &t;
  }
  TORCH_CHECK(type, "write_npy(", path, "): unsupported dtype ", array.scalar_type(),
              " (supported: float32, float64, int64, uint8)");
  const at::Tensor a = array.detach().to(at::kCPU).contiguous();

  std::string header = std::string("{'descr': '") + type->descr +
                       "', 'fortran_order': False, 'shape': " + shape_text(a.sizes().vec()) + ", }";
  const size_t preamble = kNpyMagicLen + 4;  // magic, version (2 bytes), header length (2 bytes)
  const size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';
  TORCH_CHECK(header.size() <= 65535, "write_npy(", path, "): header too long");

  std::string pre(kNpyMagic, kNpyMagicLen);
  pre += '\x01';
  pre += '\x00';
  pre += static_cast<char>(header.size() & 0xff);
  pre += static_cast<char>(header.size() >> 8);
  const std::string_view data(static_cast<const char*>(a.data_ptr()),
                              static_cast<size_t>(a.numel()) * type->itemsize);
  detail::write_file_atomic(path, {pre, header, data}, ".npy file ");
}

at::Tensor read_npy(const std::string& path) {
  const std::string bytes = detail::read_file(path, ".npy file ");
  auto fail = [&](const std::string& what) {
    throw UserError("cannot read .npy file " + path + ": " + what);
  };
  if (bytes.size() < kNpyMagicLen + 4 || bytes.compare(0, kNpyMagicLen, kNpyMagic) != 0) {
    fail("wrong magic bytes (not a NumPy .npy file?)");
  }
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<uint8_t>(bytes[i])); };
  const size_t major = byte(6);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("truncated header");
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    header_start = 12;
  } else {
    fail("unsupported format version " + std::to_string(major) + "." + std::to_string(byte(7)));
  }
  if (bytes.size() < header_start + header_len) fail("truncated header");
  const std::string header = bytes.substr(header_start, header_len);

  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  NpyHeaderParser(header, path).parse(&descr, &fortran, &shape);

  const NpyType* type = nullptr;
  for (const NpyType& t : kNpyTypes) {
    if (descr == t.descr || (t.itemsize == 1 && descr == "<u1")) type = &t;
  }
  if (!type) fail("unsupported dtype '" + printable(descr) + "' (anila reads <f4, <f8, <i8, |u1)");
  if (fortran) fail("Fortran-order arrays are not supported (save a C-contiguous array)");

  size_t numel = 1;
  for (int64_t d : shape) {
    if (d > 0 && numel > (size_t{1} << 48) / static_cast<size_t>(d)) fail("shape too large");
    numel *= static_cast<size_t>(d);
  }
  const size_t expected = numel * type->itemsize;
  const size_t found = bytes.size() - header_start - header_len;
  if (found != expected) {
    fail((found < expected ? "truncated data: expected " : "unexpected trailing data: expected ") +
         std::to_string(expected) + " bytes for shape " + shape_text(shape) + " of " +
         printable(descr) + ", found " + std::to_string(found));
  }
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(type->dtype));
  if (expected > 0) std::memcpy(out.data_ptr(), bytes.data() + header_start + header_len, expected);
  return out;
}

// ---- run folders ----------------------------------------------------------------

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw UserError("cannot create output folder " + path + ": " + ec.message());
  if (!fs::is_directory(path, ec)) {
    throw UserError("cannot create output folder " + path + ": exists and is not a folder");
  }
}

void check_writable(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UserError("output folder " + dir + " does not exist or is not a folder");
  }
  const std::string probe =
      (fs::path(dir) / (".anila-write-test-" + std::to_string(static_cast<long>(::getpid()))))
          .string();
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f || std::fputc('x', f) == EOF || std::fclose(f) != 0) {
    const int err = errno;
    if (f) std::remove(probe.c_str());
    throw UserError("cannot write to output folder " + dir + ": " + std::strerror(err));
  }
  std::remove(probe.c_str());
}

// ---- tables -----------------------------------------------------------------------

namespace {

// Display width of a UTF-8 string (code points, not bytes).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows) {
  const size_t n = header.size();
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size() + 1);
  cells.emplace_back();
  for (const auto& h : header) cells.back().push_back(markdown_cell(h));
  for (const auto& row : rows) {
    TORCH_CHECK(row.size() == n, "markdown_table: a row has ", row.size(), " cells, header has ",
                n);
    cells.emplace_back();
    for (const auto& c : row) cells.back().push_back(markdown_cell(c));
  }
  std::vector<size_t> width(n, 3);
  for (const auto& row : cells) {
    for (size_t j = 0; j < n; ++j) width[j] = std::max(width[j], display_width(row[j]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    out += '|';
    for (size_t j = 0; j < n; ++j) {
      out += ' ' + row[j] + std::string(width[j] - display_width(row[j]), ' ') + " |";
    }
    out += '\n';
  };
  line(cells[0]);
  out += '|';
  for (size_t j = 0; j < n; ++j) out += std::string(width[j] + 2, '-') + '|';
  out += '\n';
  for (size_t i = 1; i < cells.size(); ++i) line(cells[i]);
  return out;
}

std::string csv_table(const std::vector<std::string>& header,
                      const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t j = 0; j < row.size(); ++j) {
      if (j > 0) out += ',';
      out += csv_cell(row[j]);
    }
    out += '\n';
  };
  line(header);
  for (const auto& row : rows) {
    TORCH_CHECK(row.size() == header.size(), "csv_table: a row has ", row.size(),
                " cells, header has ", header.size());
    line(row);
  }
  return out;
}

// ---- metrics log --------------------------------------------------------------------

namespace {

// One CSV cell for a JSON value: integers as integers, doubles with %.9g, strings
// quoted when needed, null/absent empty, arrays/objects as compact JSON.
std::string csv_value(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "";
    case Json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case Json::value_t::number_float: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.9g", v.get<double>());
      return buf;
    }
    case Json::value_t::string:
      return csv_cell(v.get<std::string>());
    default:
      return csv_cell(v.dump());
  }
}

std::string csv_row(const Json& row, const std::vector<std::string>& columns) {
  std::string line;
  for (size_t j = 0; j < columns.size(); ++j) {
    if (j > 0) line += ',';
    auto it = row.find(columns[j]);
    if (it != row.end()) line += csv_value(*it);
  }
  return line + '\n';
}

std::string csv_header(const std::vector<std::string>& columns) {
  std::string line;
  for (size_t j = 0; j < columns.size(); ++j) line += (j > 0 ? "," : "") + csv_cell(columns[j]);
  return line + '\n';
}

void append_to(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) throw UserError("cannot append to " + path + ": " + std::strerror(errno));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) {
    throw UserError("cannot append to " + path + ": " + std::strerror(ok ? errno : err));
  }
}

}  // namespace

MetricsLog::MetricsLog(const std::string& dir, std::vector<std::string> columns, bool resume,
                       int64_t keep_until)
    : csv_path_((fs::path(dir) / "metrics.csv").string()),
      jsonl_path_((fs::path(dir) / "metrics.jsonl").string()),
      columns_(std::move(columns)) {
  std::string jsonl, csv = csv_header(columns_);
  std::error_code ec;
  if (resume && fs::exists(jsonl_path_, ec)) {
    // metrics.jsonl holds every value, so both files are rebuilt from its kept rows.
    // A line that does not parse (a run killed mid-write) is dropped.
    std::istringstream in(detail::read_file(jsonl_path_));
    std::string line;
    while (std::getline(in, line)) {
      const Json row = try_parse_json(line);
      if (!row.is_object()) continue;
      auto it = row.find("iteration");
      if (it != row.end() && it->is_number()) {
        const double at = it->get<double>(), kept = static_cast<double>(keep_until);
        // Rows after the checkpoint are written again; so is a final-evaluation
        // row (no loss) at the checkpoint's iteration, from a run killed at its end.
        if (at > kept || (at == kept && !row.contains("loss"))) continue;
      }
      jsonl += row.dump() + '\n';
      csv += csv_row(row, columns_);
    }
  }
  detail::write_file_atomic(jsonl_path_, {jsonl});
  detail::write_file_atomic(csv_path_, {csv});
}

void MetricsLog::append(const Json& row) {
  TORCH_CHECK(row.is_object(), "MetricsLog::append: a row must be a JSON object, got ", row.dump());
  append_to(jsonl_path_, row.dump() + '\n');
  append_to(csv_path_, csv_row(row, columns_));
}

}  // namespace anila::io
