// checkpoint_format.cpp — anila's checkpoint payload: a LibTorch archive tree as
// one JSON line of entries plus raw tensor bytes (see anila/io/checkpoint_file.h).
//
// Writing walks the archive (serialised and read back in memory, since an
// OutputArchive cannot be walked); reading validates the whole header against
// the payload's size before allocating a tensor, then rebuilds an OutputArchive
// and hands LibTorch the bytes LibTorch itself writes from it.
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "anila/common.h"
#include "anila/config.h"
#include "anila/io/checkpoint_file.h"
#include "core/json_scan.h"

namespace anila::io {

namespace {

constexpr char kFormat[] = "anila-checkpoint";
constexpr int kVersion = 1;
constexpr size_t kMaxHeaderBytes = size_t(16) << 20;
constexpr size_t kMaxEntries = 1000000;
constexpr size_t kMaxPathDepth = 16;
constexpr size_t kMaxKeyLength = 200;
constexpr size_t kMaxDims = 8;
constexpr size_t kMaxStringBytes = 4096;
constexpr size_t kMaxListLength = 100000;
constexpr int64_t kMaxDimSize = int64_t(1) << 40;

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeName kDtypes[] = {{"float32", at::kFloat}, {"float64", at::kDouble},
                                 {"float16", at::kHalf},  {"bfloat16", at::kBFloat16},
                                 {"int64", at::kLong},    {"int32", at::kInt},
                                 {"int16", at::kShort},   {"int8", at::kChar},
                                 {"uint8", at::kByte},    {"bool", at::kBool}};

// Keys as LibTorch's archives use them (parameter names, optimizer state ids,
// "param_groups/size"); nothing that could mean something in generated code.
bool valid_key(const std::string& key) {
  if (key.empty() || key.size() > kMaxKeyLength || key == "training") return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '/';
    if (!ok) return false;
  }
  return true;
}

// ---- writing ------------------------------------------------------------------

Json double_value(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
}

// `entry` gets the one field for a scalar IValue; false when `v` is not one.
bool put_scalar(Json& entry, const c10::IValue& v) {
  if (v.isNone()) {
    entry["none"] = true;
  } else if (v.isBool()) {
    entry["bool"] = v.toBool();
  } else if (v.isInt()) {
    entry["int"] = v.toInt();
  } else if (v.isDouble()) {
    entry["double"] = double_value(v.toDouble());
  } else if (v.isString()) {
    entry["string"] = v.toStringRef();
  } else {
    return false;
  }
  return true;
}

// `entry` gets the one value field for a scalar, a list or a tuple of scalars.
void put_value(Json& entry, const c10::IValue& v, const std::string& key) {
  if (put_scalar(entry, v)) return;
  if (v.isTuple()) {
    Json items = Json::array();
    for (const c10::IValue& item : v.toTupleRef().elements()) {
      Json one;
      if (!put_scalar(one, item))
        throw std::runtime_error("checkpoint: tuple holding a " + item.tagKind() + " under " + key);
      items.push_back(std::move(one));
    }
    entry["tuple"] = std::move(items);
    return;
  }
  if (!v.isList())
    throw std::runtime_error("checkpoint: cannot store a " + v.tagKind() + " under " + key);
  const c10::List<c10::IValue> list = v.toList();
  const c10::TypeKind k = list.elementType()->kind();
  const char* field = k == c10::TypeKind::IntType      ? "ints"
                      : k == c10::TypeKind::FloatType  ? "doubles"
                      : k == c10::TypeKind::BoolType   ? "bools"
                      : k == c10::TypeKind::StringType ? "strings"
                                                       : nullptr;
  if (!field) {
    throw std::runtime_error("checkpoint: list of " + list.elementType()->str() + " under " + key);
  }
  Json items = Json::array();
  for (const c10::IValue& item : list) {
    Json one;
    put_scalar(one, item);
    items.push_back(one.begin().value());
  }
  entry[field] = std::move(items);
}

const char* dtype_name(at::ScalarType t) {
  for (const DtypeName& d : kDtypes)
    if (d.type == t) return d.name;
  throw std::runtime_error(std::string("checkpoint: cannot store dtype ") + c10::toString(t));
}

struct Writer {
  Json entries = Json::array();
  std::string data;

  void tensor(Json& entry, at::Tensor t) {
    t = t.detach().to(at::kCPU).contiguous();
    entry["tensor"] = dtype_name(t.scalar_type());
    entry["shape"] = t.sizes().vec();
    entry["offset"] = data.size();
    data.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  }

  void walk(torch::serialize::InputArchive& archive, Json& path) {
    for (const std::string& key : archive.keys()) {
      if (key == "training") continue;  // every TorchScript module's own flag
      c10::IValue v;
      archive.read(key, v);
      Json entry;
      path.push_back(key);
      entry["path"] = path;
      if (v.isModule()) {
        entry["archive"] = true;
        entries.push_back(std::move(entry));
        torch::serialize::InputArchive child;
        archive.read(key, child);
        walk(child, path);
      } else if (v.isTensor()) {
        at::Tensor as_param;
        bool param = false;
        try {  // some LibTorch versions check is_buffer, others ignore it
          param = archive.try_read(key, as_param, /*is_buffer=*/false);
        } catch (const std::exception&) {
        }
        entry["buffer"] = !param;
        tensor(entry, v.toTensor());
        entries.push_back(std::move(entry));
      } else {
        put_value(entry, v, key);
        entries.push_back(std::move(entry));
      }
      path.erase(path.size() - 1);
    }
  }
};

// ---- reading ------------------------------------------------------------------

// One validated entry of the tree; children only for archives.
struct Node {
  std::string key;
  Json entry;
  at::ScalarType dtype = at::kFloat;
  std::vector<int64_t> shape;
  size_t offset = 0, bytes = 0;
  std::deque<Node> children;  // a deque: pushing a sibling keeps pointers to the others
  bool archive = false;
};

class Reader {
 public:
  explicit Reader(const std::string& path) : where_("checkpoint " + path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(where_ + " is damaged or not an anila checkpoint: " + what);
  }

  // The tree of `header` for `data_bytes` bytes of tensor data.
  Node parse(const Json& header, size_t data_bytes) {
    if (!header.is_object() || header.value("format", Json()) != kFormat)
      fail("its header does not say \"format\": \"" + std::string(kFormat) + "\"");
    if (header.value("version", Json()) != kVersion)
      fail("format version " + describe_json(header.value("version", Json())) +
           " (this anila reads version " + std::to_string(kVersion) + ")");
    const Json& declared = header.value("data_bytes", Json());
    if (!declared.is_number_unsigned() || declared.get<uint64_t>() != data_bytes)
      fail("header says data_bytes " + describe_json(declared) + ", the file holds " +
           std::to_string(data_bytes));
    const auto it = header.find("entries");
    if (it == header.end() || !it->is_array()) fail("header has no \"entries\" list");
    if (it->size() > kMaxEntries) fail(std::to_string(it->size()) + " entries (at most 1000000)");
    limit_ = data_bytes;
    Node root;
    root.archive = true;
    for (size_t i = 0; i < it->size(); ++i) add(root, (*it)[i], i);
    if (cursor_ != data_bytes)
      fail("its tensors hold " + std::to_string(cursor_) + " bytes of the " +
           std::to_string(data_bytes) + " after the header");
    return root;
  }

 private:
  std::string where_;
  size_t cursor_ = 0, limit_ = 0;
  std::set<std::vector<std::string>> seen_;
  std::map<std::vector<std::string>, Node*>
      archives_;  // by path: each entry finds its parent in log n

  void add(Node& root, const Json& e, size_t i) {
    const std::string at = "entry " + std::to_string(i);
    if (!e.is_object()) fail(at + " is not an object");
    const auto p = e.find("path");
    if (p == e.end() || !p->is_array() || p->empty() || p->size() > kMaxPathDepth)
      fail(at + ": \"path\" must be a list of 1 to 16 keys");
    std::vector<std::string> path;
    for (const Json& k : *p) {
      if (!k.is_string() || !valid_key(k.get<std::string>()))
        fail(at + ": key " + describe_json(k) +
             " (keys are 1-200 letters, digits, '_' or '/', not \"training\")");
      path.push_back(k.get<std::string>());
    }
    if (!seen_.insert(path).second) fail(at + ": key " + path.back() + " appears twice");
    Node* parent = &root;
    if (path.size() > 1) {
      const auto found = archives_.find(std::vector<std::string>(path.begin(), path.end() - 1));
      if (found == archives_.end())
        fail(at + ": its parent " + path[path.size() - 2] +
             " is not an archive declared before it");
      parent = found->second;
    }
    Node node;
    node.key = path.back();
    fill(node, e, at);
    parent->children.push_back(std::move(node));
    if (parent->children.back().archive) archives_[path] = &parent->children.back();
  }

  void fill(Node& node, const Json& e, const std::string& at) {
    static const char* kKinds[] = {"archive", "tensor", "none",  "bool",    "int",     "double",
                                   "string",  "ints",   "bools", "doubles", "strings", "tuple"};
    std::string kind;
    for (const char* k : kKinds) {
      if (!e.contains(k)) continue;
      if (!kind.empty()) fail(at + " holds both " + kind + " and " + k);
      kind = k;
    }
    if (kind.empty()) fail(at + " holds no value");
    if (kind == "archive") {
      if (e["archive"] != true) fail(at + ": \"archive\" must be true");
      node.archive = true;
    } else if (kind == "tensor") {
      tensor(node, e, at);
    } else {
      check_value(e, kind, at);
    }
    node.entry = e;
  }

  void tensor(Node& node, const Json& e, const std::string& at) {
    const Json& name = e["tensor"];
    bool known = false;
    for (const DtypeName& d : kDtypes) {
      if (name == d.name) {
        node.dtype = d.type;
        known = true;
      }
    }
    if (!known) fail(at + ": unknown dtype " + describe_json(name));
    const Json& shape = e.value("shape", Json());
    if (!shape.is_array() || shape.size() > kMaxDims) fail(at + ": shape must be 0-8 sizes");
    uint64_t numel = 1;
    bool huge = false;  // more elements than any file could hold
    for (const Json& s : shape) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() > kMaxDimSize)
        fail(at + ": shape size " + describe_json(s));
      node.shape.push_back(s.get<int64_t>());
      const uint64_t n = uint64_t(node.shape.back());
      if (n > 0 && numel > (uint64_t(1) << 56) / n) huge = true;
      numel = huge ? 1 : numel * n;
    }
    if (std::count(node.shape.begin(), node.shape.end(), 0) > 0) huge = false, numel = 0;
    const uint64_t bytes = numel * c10::elementSize(node.dtype);
    const Json& offset = e.value("offset", Json());
    if (!offset.is_number_unsigned() || offset.get<uint64_t>() != cursor_)
      fail(at + ": offset " + describe_json(offset) + ", expected " + std::to_string(cursor_) +
           " (tensors are stored back to back)");
    if (huge || bytes > limit_ - cursor_)
      fail(at + ": a " + name.get<std::string>() + " tensor of shape " + shape.dump() +
           " needs more bytes than the file holds");
    if (e.contains("buffer") && !e["buffer"].is_boolean())
      fail(at + ": \"buffer\" must be true or false");
    node.offset = cursor_;
    node.bytes = size_t(bytes);
    cursor_ += size_t(bytes);
  }

  // A scalar of `kind` ("int", ...); list kinds check each element as their scalar.
  static bool scalar_ok(const std::string& kind, const Json& x) {
    if (kind == "none") return x == true;
    if (kind == "bool" || kind == "bools") return x.is_boolean();
    if (kind == "int" || kind == "ints") return x.is_number_integer();
    if (kind == "double" || kind == "doubles")
      return x.is_number() || x == "nan" || x == "inf" || x == "-inf";
    return x.is_string() && x.get_ref<const std::string&>().size() <= kMaxStringBytes;
  }

  void check_value(const Json& e, const std::string& kind, const std::string& at) {
    const Json& v = e[kind];
    const bool list = kind == "ints" || kind == "bools" || kind == "doubles" || kind == "strings";
    if (kind == "tuple") {
      if (!v.is_array() || v.size() > kMaxListLength) fail(at + ": tuple must be a list");
      for (const Json& x : v) {
        static const char* kScalars[] = {"none", "bool", "int", "double", "string"};
        bool ok = x.is_object() && x.size() == 1;
        if (ok) {
          const std::string k = x.begin().key();
          ok = std::any_of(std::begin(kScalars), std::end(kScalars),
                           [&](const char* s) { return k == s; }) &&
               scalar_ok(k, x.begin().value());
        }
        if (!ok) fail(at + ": bad tuple element " + describe_json(x));
      }
    } else if (!list) {
      if (!scalar_ok(kind, v)) fail(at + ": bad " + kind + " value " + describe_json(v));
    } else {
      if (!v.is_array() || v.size() > kMaxListLength) fail(at + ": " + kind + " must be a list");
      for (const Json& x : v)
        if (!scalar_ok(kind, x)) fail(at + ": bad element " + describe_json(x) + " in " + kind);
    }
  }
};

double to_double(const Json& x) {
  if (x.is_number()) return x.get<double>();
  if (x == "nan") return std::numeric_limits<double>::quiet_NaN();
  return x == "inf" ? std::numeric_limits<double>::infinity()
                    : -std::numeric_limits<double>::infinity();
}

c10::IValue to_ivalue(const Json& e) {
  if (e.contains("none")) return c10::IValue();
  if (e.contains("bool")) return e["bool"].get<bool>();
  if (e.contains("int")) return e["int"].get<int64_t>();
  if (e.contains("double")) return to_double(e["double"]);
  if (e.contains("string")) return e["string"].get<std::string>();
  if (e.contains("tuple")) {
    std::vector<c10::IValue> items;
    for (const Json& x : e["tuple"]) items.push_back(to_ivalue(x));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (e.contains("ints")) {
    c10::List<int64_t> list;
    for (const Json& x : e["ints"]) list.push_back(x.get<int64_t>());
    return list;
  }
  if (e.contains("bools")) {
    c10::List<bool> list;
    for (const Json& x : e["bools"]) list.push_back(x.get<bool>());
    return list;
  }
  if (e.contains("strings")) {
    c10::List<std::string> list;
    for (const Json& x : e["strings"]) list.push_back(x.get<std::string>());
    return list;
  }
  c10::List<double> list;
  for (const Json& x : e["doubles"]) list.push_back(to_double(x));
  return list;
}

// The validated tree as an OutputArchive (tensors copied out of `data`).
void build(const Node& node, const char* data, torch::serialize::OutputArchive& out,
           const std::string& fail_prefix) {
  for (const Node& c : node.children) {
    if (c.archive) {
      torch::serialize::OutputArchive child(out.compilation_unit());
      build(c, data, child, fail_prefix);
      out.write(c.key, child);
    } else if (c.entry.contains("tensor")) {
      at::Tensor t = at::empty(c.shape, at::TensorOptions().dtype(c.dtype));
      if (c.dtype == at::kBool) {
        for (size_t i = 0; i < c.bytes; ++i)
          if (static_cast<uint8_t>(data[c.offset + i]) > 1)
            throw UserError(fail_prefix + "bool tensor " + c.key +
                            " holds a value other than 0 or 1");
      }
      if (c.bytes > 0) std::memcpy(t.data_ptr(), data + c.offset, c.bytes);
      out.write(c.key, t, /*is_buffer=*/c.entry.value("buffer", false));
    } else {
      out.write(c.key, to_ivalue(c.entry));
    }
  }
}

// The header's JSON, nesting checked first by a linear scan (nlohmann's
// callback parser, which bounds depth for configs, takes seconds on a header of
// 10⁴ entries).
Json parse_header(const std::string& text, const Reader& reader) {
  int depth = 0;
  scan_outside_strings(text, [&](size_t i) {
    const char c = text[i];
    if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) reader.fail("header: nested deeper than 64 levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
    return i;
  });
  try {
    return Json::parse(text);
  } catch (const Json::parse_error&) {
    reader.fail("header: invalid JSON");
  } catch (const Json::out_of_range&) {
    reader.fail("header: a number beyond the range of a double");
  }
}

}  // namespace

std::string encode_checkpoint(torch::serialize::OutputArchive& archive) {
  // An OutputArchive cannot be walked: serialise it and read it back.
  std::ostringstream zip;
  archive.save_to(zip);
  const std::string bytes = zip.str();
  torch::serialize::InputArchive in;
  in.load_from(bytes.data(), bytes.size(), c10::Device(c10::kCPU));
  Writer w;
  Json path = Json::array();
  w.walk(in, path);
  Json header = {{"format", kFormat},
                 {"version", kVersion},
                 {"data_bytes", w.data.size()},
                 {"entries", std::move(w.entries)}};
  return header.dump() + "\n" + w.data;
}

void decode_checkpoint(const std::string& payload, torch::serialize::InputArchive& archive,
                       const c10::Device& device, const std::string& path) {
  Reader reader(path);
  const size_t eol = payload.find('\n');
  if (eol == std::string::npos || eol > kMaxHeaderBytes)
    reader.fail("no header line (at most 16 MiB of JSON, then a newline)");
  const Json header = parse_header(payload.substr(0, eol), reader);
  const Node root = reader.parse(header, payload.size() - eol - 1);
  const std::string prefix = "checkpoint " + path + " is damaged or not an anila checkpoint: ";
  try {
    torch::serialize::OutputArchive rebuilt;
    build(root, payload.data() + eol + 1, rebuilt, prefix);
    std::ostringstream zip;
    rebuilt.save_to(zip);
    const std::string bytes = zip.str();
    archive.load_from(bytes.data(), bytes.size(), device);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {  // LibTorch refused a validated tree: name the reason
    const std::string what = e.what();
    reader.fail(what.substr(0, what.find('\n')));
  }
}

void write_checkpoint(const std::string& path, torch::serialize::OutputArchive& archive) {
  std::string payload;
  try {
    payload = encode_checkpoint(archive);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw UserError("cannot write checkpoint " + path + ": " + what.substr(0, what.find('\n')));
  }
  write_checkpoint_file(path, payload);
}

void read_checkpoint(const std::string& path, torch::serialize::InputArchive& archive,
                     const c10::Device& device) {
  const CheckpointPayload payload = read_checkpoint_file(path);  // length and checksum
  if (payload.format == CheckpointFormat::anila) {
    decode_checkpoint(payload.bytes, archive, device, path);
    return;
  }
  // Legacy: LibTorch's zip, as anila wrote it before its own format. LibTorch's
  // reader can crash on a crafted file, so it runs only on the user's word.
  const char* trust = std::getenv(kTrustOldCheckpointsEnv);
  if (!trust || std::string(trust) != "1") {
    throw UserError("checkpoint " + path +
                    " is in the old LibTorch format, which anila no longer reads by default "
                    "(LibTorch's reader can crash on a crafted file); if you wrote it, load it "
                    "once with " +
                    kTrustOldCheckpointsEnv +
                    "=1 (a resumed run then writes the "
                    "new format)");
  }
  try {
    archive.load_from(payload.bytes.data(), payload.bytes.size(), device);
  } catch (const std::exception&) {
    throw UserError("checkpoint " + path + " is corrupt or not an anila checkpoint");
  }
}

}  // namespace anila::io
