// chain_source.cpp — noise, persistent, replay and data chain sources, and the
// float32/float16/uint8 bank storage (rules in chain_source.h).
#include "anila/chains/chain_source.h"

#include <cmath>
#include <sstream>

#include <ATen/ATen.h>

#include "anila/config.h"

namespace anila {

namespace {

std::vector<int64_t> batch_shape(int64_t M, const std::vector<int64_t>& sample_shape) {
  std::vector<int64_t> shape{M};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
}

std::string dtype_text(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kHalf:
      return "float16";
    case at::kByte:
      return "uint8";
    default:
      return c10::toString(t);
  }
}

// uint8 levels per unit of v: s = 255/(hi − lo).
double uint8_scale(const ChainOptions& o) {
  return 255.0 / (o.storage_range[1] - o.storage_range[0]);
}

class NoiseSource : public ChainSource {
 public:
  using ChainSource::ChainSource;
  at::Tensor draw(int64_t M, const at::Tensor&, at::Generator& gen) override {
    return noise(M, gen);
  }
};

class DataSource : public ChainSource {
 public:
  using ChainSource::ChainSource;
  at::Tensor draw(int64_t M, const at::Tensor& data_batch, at::Generator& gen) override {
    TORCH_CHECK(data_batch.defined() && data_batch.size(0) >= M,
                "data chain source needs a data batch of at least ", M, " points");
    return data_batch.slice(0, 0, M).clone();
  }
};

// A bank of chains; persistent (reinit_prob = 0) or replay (reinit_prob = p).
class BankSource : public ChainSource {
 public:
  BankSource(ChainOptions options, std::vector<int64_t> sample_shape, c10::Device device,
             at::Generator& gen, double reinit_prob)
      : ChainSource(std::move(options), std::move(sample_shape), device),
        reinit_prob_(reinit_prob) {
    bank_ = chain_storage_encode(noise(options_.bank_size, gen), options_);
  }
  at::Tensor draw(int64_t M, const at::Tensor&, at::Generator& gen) override {
    if (M > bank_.size(0)) {
      throw UserError("train.batch_size (" + std::to_string(M) +
                      ") is larger than chains.bank_size (" + std::to_string(bank_.size(0)) + ")");
    }
    index_ = at::randperm(bank_.size(0), gen, at::TensorOptions().dtype(at::kLong).device(device_))
                 .slice(0, 0, M)
                 .to(device_);
    at::Tensor z = chain_storage_decode(bank_.index_select(0, index_), options_);
    if (reinit_prob_ > 0) {
      at::Tensor u = at::rand({M}, gen, at::TensorOptions().device(device_));
      at::Tensor fresh = noise(M, gen);
      std::vector<int64_t> mask_shape(z.dim(), 1);
      mask_shape[0] = M;
      z = at::where((u < reinit_prob_).view(mask_shape), fresh, z);
    }
    return z;
  }
  void give_back(const at::Tensor& z) override {
    if (index_.defined()) {
      bank_.index_copy_(0, index_, chain_storage_encode(z.detach().to(device_), options_));
    }
  }
  at::Tensor state() const override { return bank_; }
  void set_state(const at::Tensor& bank) override {
    if (bank.sizes() != bank_.sizes()) {
      throw UserError("chain bank has shape " + shape_text(bank.sizes()) +
                      " but chains.bank_size and the sample shape give " +
                      shape_text(bank_.sizes()));
    }
    const at::ScalarType want = bank_.scalar_type();
    if (bank.scalar_type() == want) {
      bank_ = bank.to(device_).clone(at::MemoryFormat::Contiguous);
    } else if (at::isFloatingType(bank.scalar_type())) {
      bank_ = chain_storage_encode(bank.to(device_), options_).contiguous();
    } else {
      throw UserError("chain bank is " + dtype_text(bank.scalar_type()) +
                      " but chains.storage is \"" + options_.storage + "\" (expects " +
                      dtype_text(want) +
                      " or a floating bank); resume with the storage it was saved with");
    }
  }

 private:
  double reinit_prob_;
  at::Tensor bank_, index_;
};

}  // namespace

Json ChainOptions::to_json() const {
  Json j = {{"type", type}, {"init", init}, {"scale", scale}};
  if (type == "persistent" || type == "replay") j["bank_size"] = bank_size;
  if (type == "replay") j["reinit_prob"] = reinit_prob;
  if (type == "persistent" || type == "replay") {
    j["storage"] = storage;
    if (storage == "uint8") j["storage_range"] = {storage_range[0], storage_range[1]};
  }
  return j;
}

ChainSource::ChainSource(ChainOptions options, std::vector<int64_t> sample_shape,
                         c10::Device device)
    : options_(std::move(options)), sample_shape_(std::move(sample_shape)), device_(device) {}

at::Tensor ChainSource::noise(int64_t M, at::Generator& gen) const {
  auto opts = at::TensorOptions().dtype(at::kFloat).device(device_);
  auto shape = batch_shape(M, sample_shape_);
  if (options_.init == "gaussian") return at::randn(shape, gen, opts).mul_(options_.scale);
  return at::rand(shape, gen, opts).mul_(2 * options_.scale).sub_(options_.scale);
}

std::vector<std::string> chain_types() {
  return {"noise", "persistent", "replay", "data"};
}

std::vector<std::string> chain_storage_types() {
  return {"float32", "float16", "uint8"};
}

at::ScalarType chain_storage_dtype(const ChainOptions& options) {
  if (options.storage == "float16") return at::kHalf;
  if (options.storage == "uint8") return at::kByte;
  TORCH_CHECK(options.storage == "float32", "unknown chain storage ", options.storage);
  return at::kFloat;
}

at::Tensor chain_storage_encode(const at::Tensor& z, const ChainOptions& options) {
  const at::ScalarType dtype = chain_storage_dtype(options);
  if (dtype != at::kByte) return z.to(dtype);
  // In double, so the level (v − lo)·s is accurate to ~1e-16 relative and a tie
  // (e.g. 0 → 127.5 with [−1, 1]) is settled by the rule, not by float32 error;
  // round() is half to even.
  // clamp() (not in place) also keeps a double `z` from being modified.
  const double lo = options.storage_range[0], hi = options.storage_range[1];
  return z.to(at::kDouble).clamp(lo, hi).sub_(lo).mul_(uint8_scale(options)).round_().to(at::kByte);
}

at::Tensor chain_storage_decode(const at::Tensor& stored, const ChainOptions& options) {
  TORCH_CHECK(stored.scalar_type() == chain_storage_dtype(options), "chain bank dtype ",
              stored.scalar_type(), " does not match storage ", options.storage);
  if (stored.scalar_type() != at::kByte) return stored.to(at::kFloat);
  // v' = lo + q/s: with [−1, 1] this is b/127.5 − 1, the image loaders' levels.
  return stored.to(at::kDouble)
      .div_(uint8_scale(options))
      .add_(options.storage_range[0])
      .to(at::kFloat);
}

ChainOptions parse_chain_options(const Json& section, const std::string& path) {
  ConfigReader r(section, path);
  ChainOptions o;
  o.type = r.choice("type", o.type, chain_types());
  o.init = r.choice("init", o.init, {"uniform", "gaussian"});
  o.scale = r.number("scale", o.scale, Range::positive());
  o.bank_size = r.integer("bank_size", o.bank_size, Range::at_least(1));
  o.reinit_prob = r.number("reinit_prob", o.reinit_prob, Range::unit());
  o.storage = r.choice("storage", o.storage, chain_storage_types());
  r.allow({"storage_range"});
  if (r.has("storage_range")) {
    const Json& v = section.at("storage_range");
    bool ok = v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number();
    if (ok) {
      o.storage_range = {v[0].get<double>(), v[1].get<double>()};
      ok = o.storage_range[0] < o.storage_range[1] &&
           std::isfinite(o.storage_range[1] - o.storage_range[0]);
    }
    if (!ok) {
      throw UserError(r.key_path("storage_range") +
                      ": expected [lo, hi], two finite numbers with lo < hi, got " +
                      describe_json(v));
    }
  }
  r.finish();
  return o;
}

ChainSourcePtr make_chain_source(const ChainOptions& options,
                                 const std::vector<int64_t>& sample_shape, c10::Device device,
                                 at::Generator& gen) {
  if (options.type == "noise") return std::make_shared<NoiseSource>(options, sample_shape, device);
  if (options.type == "data") return std::make_shared<DataSource>(options, sample_shape, device);
  if (options.type == "persistent") {
    return std::make_shared<BankSource>(options, sample_shape, device, gen, 0.0);
  }
  return std::make_shared<BankSource>(options, sample_shape, device, gen, options.reinit_prob);
}

}  // namespace anila
