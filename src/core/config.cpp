// config.cpp — ConfigReader and config-file helpers (see anila/config.h).
#include "anila/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/json_scan.h"

namespace anila {

namespace {

std::string range_text(const Range& r) {
  std::ostringstream s;
  bool lo = std::isfinite(r.lo), hi = std::isfinite(r.hi);
  if (lo && hi) {
    s << "in " << (r.lo_open ? "(" : "[") << r.lo << ", " << r.hi << (r.hi_open ? ")" : "]");
  } else if (lo) {
    s << (r.lo_open ? "> " : ">= ") << r.lo;
  } else if (hi) {
    s << (r.hi_open ? "< " : "<= ") << r.hi;
  }
  return s.str();
}

bool in_range(double v, const Range& r) {
  if (std::isnan(v)) return false;
  if (r.lo_open ? !(v > r.lo) : !(v >= r.lo)) return false;
  if (r.hi_open ? !(v < r.hi) : !(v <= r.hi)) return false;
  return true;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) bytes /= 1000, ++u;
  char buf[48];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

void check_memory(const std::string& what, double bytes) {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  const double have = pages > 0 && page > 0 ? double(pages) * double(page) : 0;
  if (have <= 0) return;  // unknown: let the allocator decide
  if (!(bytes <= have)) {
    throw UserError(
        what + " needs at least " +
        (std::isfinite(bytes) && bytes < 1e21 ? format_bytes(bytes) : "more than 1 ZB") +
        " of memory; this machine has " + format_bytes(have));
  }
}

std::string describe_json(const Json& value) {
  // replace: a string with invalid UTF-8 (from --set) must not throw here.
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    std::string item = trim(text.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (best.empty() || best_d > std::max<size_t>(2, word.size() / 2)) return "";
  return best;
}

ConfigReader::ConfigReader(const Json& section, std::string path)
    : section_(section.is_null() ? Json::object() : section), path_(std::move(path)) {
  if (!section_.is_object()) {
    throw UserError(path_ + ": expected an object {...}, got " + describe_json(section));
  }
}

std::string ConfigReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool ConfigReader::has(const std::string& key) const {
  return section_.contains(key) && !section_.at(key).is_null();
}

void ConfigReader::allow(const std::vector<std::string>& keys) {
  known_.insert(keys.begin(), keys.end());
}

const Json* ConfigReader::get(const std::string& key) {
  known_.insert(key);
  auto it = section_.find(key);
  if (it == section_.end() || it->is_null()) return nullptr;
  return &*it;
}

double ConfigReader::number(const std::string& key, double def, Range range) {
  const Json* v = get(key);
  double x = def;
  if (v) {
    if (!v->is_number()) {
      throw UserError(key_path(key) + ": expected a number, got " + describe_json(*v));
    }
    x = v->get<double>();
    // Values are used as float32 tensors' scalars: beyond ±3.4e38 they overflow.
    if (std::isfinite(x) && std::abs(x) > 3.4e38) {
      throw UserError(key_path(key) + ": " + describe_json(*v) +
                      " is too large (values must fit in float32, |x| < 3.4e38)");
    }
  }
  if (!in_range(x, range)) {
    std::ostringstream s;
    s << key_path(key) << ": must be " << range_text(range) << ", got " << x;
    throw UserError(s.str());
  }
  return x;
}

int64_t ConfigReader::integer(const std::string& key, int64_t def, Range range) {
  const Json* v = get(key);
  int64_t x = def;
  if (v) {
    bool integral = v->is_number_integer() ||
                    (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
                     std::abs(v->get<double>()) < 9e15);
    if (!integral) {
      throw UserError(key_path(key) + ": expected an integer, got " + describe_json(*v));
    }
    x = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(v->get<double>());
  }
  if (!in_range(static_cast<double>(x), range)) {
    std::ostringstream s;
    s << key_path(key) << ": must be " << range_text(range) << ", got " << x;
    throw UserError(s.str());
  }
  return x;
}

bool ConfigReader::boolean(const std::string& key, bool def) {
  const Json* v = get(key);
  if (!v) return def;
  if (!v->is_boolean()) {
    throw UserError(key_path(key) + ": expected true or false, got " + describe_json(*v));
  }
  return v->get<bool>();
}

std::string ConfigReader::string(const std::string& key, const std::string& def) {
  const Json* v = get(key);
  if (!v) return def;
  if (!v->is_string()) {
    throw UserError(key_path(key) + ": expected a string, got " + describe_json(*v));
  }
  return v->get<std::string>();
}

std::string ConfigReader::choice(const std::string& key, const std::string& def,
                                 const std::vector<std::string>& choices) {
  std::string s = string(key, def);
  if (std::find(choices.begin(), choices.end(), s) == choices.end()) {
    std::string hint = closest_match(s, choices);
    throw UserError(key_path(key) + ": unknown value \"" + s + "\"" +
                    (hint.empty() ? "" : " (did you mean " + hint + "?)") +
                    "; allowed: " + join(choices));
  }
  return s;
}

std::vector<int64_t> ConfigReader::int_list(const std::string& key,
                                            const std::vector<int64_t>& def) {
  const Json* v = get(key);
  if (!v) return def;
  std::vector<int64_t> out;
  bool ok = v->is_array() && !v->empty();
  if (ok) {
    for (const auto& e : *v) {
      if (!e.is_number_integer() || e.get<int64_t>() <= 0) {
        ok = false;
        break;
      }
      out.push_back(e.get<int64_t>());
    }
  }
  if (!ok) {
    throw UserError(key_path(key) + ": expected a non-empty list of positive integers, got " +
                    describe_json(*v));
  }
  return out;
}

Json ConfigReader::raw(const std::string& key) {
  const Json* v = get(key);
  return v ? *v : Json();
}

Json ConfigReader::object(const std::string& key) {
  const Json* v = get(key);
  if (!v) return Json();
  if (!v->is_object()) {
    throw UserError(key_path(key) + ": expected an object {...}, got " + describe_json(*v));
  }
  return *v;
}

void ConfigReader::finish() const {
  std::vector<std::string> valid(known_.begin(), known_.end());
  for (auto it = section_.begin(); it != section_.end(); ++it) {
    if (known_.count(it.key())) continue;
    std::string hint = closest_match(it.key(), valid);
    throw UserError("unknown config key " + key_path(it.key()) +
                    (hint.empty() ? "" : " (did you mean " + key_path(hint) + "?)") +
                    "; valid keys: " + join(valid));
  }
}

namespace {

// Thrown by the parser callback; turned into a UserError naming the file.
struct JsonLimitError {
  std::string what;
};

// The 1-based line holding byte offset `byte` of `text`.
int line_of(const std::string& text, size_t byte) {
  const size_t upto = std::min(byte, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + upto, '\n'));
}

// Parses `text` (comments allowed) rejecting nesting deeper than
// kMaxJsonDepth; throws Json::parse_error, Json::out_of_range (a number beyond
// a double: the lexer's "number overflow") or JsonLimitError.
Json parse_bounded(const std::string& text) {
  auto callback = [](int depth, Json::parse_event_t event, Json&) {
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth) {
      throw JsonLimitError{"nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    }
    return true;
  };
  return Json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/true);
}

// "LINE: number 1e400" for the first number token of `text` (outside strings)
// that overflows a double; the lexer's overflow error does not say where.
std::string overflowing_number(const std::string& text) {
  std::string found;
  scan_outside_strings(text, [&](size_t i) {
    const char c = text[i];
    if (!found.empty() || !(c == '-' || (c >= '0' && c <= '9'))) return i;
    size_t end = i + 1;
    while (end < text.size() && std::strchr("0123456789.eE+-", text[end])) ++end;
    const std::string token = text.substr(i, end - i);
    if (!std::isfinite(std::strtod(token.c_str(), nullptr))) {
      found = std::to_string(line_of(text, i)) + ": number " + token.substr(0, 40);
    }
    return end - 1;
  });
  return found;
}

}  // namespace

Json parse_json(const std::string& text, const std::string& what) {
  try {
    return parse_bounded(text);
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the error; turn it into a line number.
    throw UserError(what + ":" + std::to_string(line_of(text, e.byte)) + ": invalid JSON");
  } catch (const JsonLimitError& e) {
    throw UserError(what + ": " + e.what);
  } catch (const Json::out_of_range&) {  // the lexer's "number overflow" (1e400)
    const std::string where = overflowing_number(text);
    throw UserError(what + ":" + (where.empty() ? " a number" : where) +
                    " is beyond the range of a double (|x| < 1.8e308)");
  }
}

Json try_parse_json(const std::string& text) {
  try {
    return parse_bounded(text);
  } catch (const Json::parse_error&) {
  } catch (const JsonLimitError&) {
  } catch (const Json::out_of_range&) {
  }
  return Json(Json::value_t::discarded);
}

Json load_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot read config file " + path + ": no such file or not readable");
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw UserError("cannot read config file " + path + ": read error");
  Json j = parse_json(buf.str(), path);
  if (!j.is_object()) throw UserError(path + ": a config must be a JSON object {...}");
  return j;
}

void apply_override(Json& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UserError("--set " + assignment + ": expected section.key=value");
  }
  try {
    (void)Json(assignment).dump();  // run folders record the config as JSON: UTF-8 only
  } catch (const Json::type_error&) {
    throw UserError("--set " +
                    Json(assignment).dump(-1, ' ', false, Json::error_handler_t::replace) +
                    ": not valid UTF-8 text");
  }
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value;
  try {
    value = parse_bounded(text);
  } catch (const Json::parse_error&) {
    value = text;  // plain string, e.g. sampler.type=langevin
  } catch (const JsonLimitError& e) {
    throw UserError("--set " + key + ": the value " + e.what);
  } catch (const Json::out_of_range&) {
    throw UserError("--set " + key + ": the value is beyond the range of a double (|x| < 1.8e308)");
  }
  Json* node = &config;
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw UserError("--set " + assignment + ": empty key component");
    if (!node->is_object()) {
      throw UserError("--set " + assignment + ": " + key.substr(0, start - 1) +
                      " is not a section");
    }
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    Json& child = (*node)[part];
    if (child.is_null()) child = Json::object();
    node = &child;
    start = dot + 1;
  }
}

}  // namespace anila
