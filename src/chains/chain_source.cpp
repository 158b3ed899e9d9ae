// chain_source.cpp — noise, persistent, replay and data chain sources.
#include "anila/chains/chain_source.h"

#include <ATen/ATen.h>

#include "anila/config.h"

namespace anila {

namespace {

std::vector<int64_t> batch_shape(int64_t M, const std::vector<int64_t>& sample_shape) {
  std::vector<int64_t> shape{M};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
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
    bank_ = noise(options_.bank_size, gen);
  }
  at::Tensor draw(int64_t M, const at::Tensor&, at::Generator& gen) override {
    if (M > bank_.size(0)) {
      throw UserError("train.batch_size (" + std::to_string(M) +
                      ") is larger than chains.bank_size (" + std::to_string(bank_.size(0)) + ")");
    }
    index_ = at::randperm(bank_.size(0), gen, at::TensorOptions().dtype(at::kLong).device(device_))
                 .slice(0, 0, M)
                 .to(device_);
    at::Tensor z = bank_.index_select(0, index_);
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
    if (index_.defined()) bank_.index_copy_(0, index_, z.detach().to(bank_.dtype()));
  }
  at::Tensor state() const override { return bank_; }
  void set_state(const at::Tensor& bank) override {
    TORCH_CHECK(bank.sizes() == bank_.sizes(), "chain bank shape mismatch: checkpoint ",
                bank.sizes(), " vs config ", bank_.sizes());
    bank_ = bank.to(bank_.device(), bank_.dtype()).clone();
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

ChainOptions parse_chain_options(const Json& section, const std::string& path) {
  ConfigReader r(section, path);
  ChainOptions o;
  o.type = r.choice("type", o.type, chain_types());
  o.init = r.choice("init", o.init, {"uniform", "gaussian"});
  o.scale = r.number("scale", o.scale, Range::positive());
  o.bank_size = r.integer("bank_size", o.bank_size, Range::at_least(1));
  o.reinit_prob = r.number("reinit_prob", o.reinit_prob, Range::unit());
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
