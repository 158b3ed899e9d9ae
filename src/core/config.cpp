// config.cpp — ConfigReader and config-file helpers (see anila/config.h).
#include "anila/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

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

std::string describe_json(const Json& value) {
  std::string text = value.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
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

Json load_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot read config file " + path + ": no such file or not readable");
  std::stringstream buf;
  buf << in.rdbuf();
  try {
    Json j = Json::parse(buf.str(), nullptr, true, /*ignore_comments=*/true);
    if (!j.is_object()) throw UserError(path + ": a config must be a JSON object {...}");
    return j;
  } catch (const Json::parse_error& e) {
    // e.byte is the 1-based offset of the error; turn it into a line number.
    std::string text = buf.str();
    size_t upto = std::min<size_t>(e.byte, text.size());
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + upto, '\n'));
    throw UserError(path + ":" + std::to_string(line) + ": invalid JSON");
  }
}

void apply_override(Json& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UserError("--set " + assignment + ": expected section.key=value");
  }
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;  // plain string, e.g. sampler.type=langevin
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
